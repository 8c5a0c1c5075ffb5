// W5: decode + resize + centre crop + normalise of JPEG files on one thread
// (core/image/preprocess.h loadPreprocessed). Peer: bench/peers/w5_images.py.
//   bench_preprocess --dir D [--n 500] [--passes 3] [--size 224]
// Files: the first n *.jpg under D in sorted path order (as the peer). One warm-up pass
// (page cache), then `passes` timed passes; value = images/s, median over passes.
#include <filesystem>

#include <ATen/ATen.h>
#include <opencv2/core/utility.hpp>

#include "bench/bench_common.h"
#include "core/common/runtime.h"
#include "core/image/preprocess.h"

using namespace vitrine;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
    core::ensureFastBlas(argc, argv);
    bench::Args args(argc, argv);
    core::setComputeThreads(1);
    cv::setNumThreads(1);
    const auto n = static_cast<std::size_t>(args.num("n", 500));
    std::vector<fs::path> files;
    for (const auto& e :
         fs::recursive_directory_iterator(args.str("dir", "."), fs::directory_options::follow_directory_symlink))
        if (e.path().extension() == ".jpg")
            files.push_back(e.path());
    std::sort(files.begin(), files.end());
    files.resize(std::min(files.size(), n));
    core::image::PreprocessOptions po;
    po.size = static_cast<int>(args.num("size", 224));
    double checksum = 0;
    auto pass = [&] {
        for (const auto& f : files)
            checksum += core::image::loadPreprocessed(f, po)[0][112][112].item<double>();
    };
    auto secs = bench::timeBlocks(pass, static_cast<int>(args.num("passes", 3)));
    std::vector<double> rates;
    for (double t : secs)
        rates.push_back(double(files.size()) / t);
    bench::emit("W5", "preprocess " + std::to_string(files.size()) + " JPEGs 1 thread", bench::median(rates),
                "images/s", true, {{"samples", rates}, {"images", files.size()}, {"checksum", checksum}});
}
