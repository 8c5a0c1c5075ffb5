// core/image and core/data against strips and vanishing files (issue 8): a real
// 2,000,000 x 1 PNG, images too thin to preprocess, and a file deleted between the scan
// and the load are refused or skipped by name, never a crash or a gigabyte allocation.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <opencv2/imgcodecs.hpp>
#include <torch/torch.h>

#include "../test_png.h"
#include "core/common/error.h"
#include "core/data/dataset.h"
#include "core/image/decode.h"
#include "core/image/preprocess.h"
#include "core/model/checkpoint.h"
#include "core/model/embedder.h"

namespace fs = std::filesystem;
using namespace vitrine::core;

namespace {

fs::path freshDir(const std::string& name) {
    auto dir = fs::temp_directory_path() / ("vitrine-image-rel-" + std::to_string(::getpid())) / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

std::string decodeError(const fs::path& p) {
    try {
        image::decodeRgb(p);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST_CASE("a real 2,000,000 x 1 PNG and its transpose are refused before decoding", "[image][reliability]") {
    const auto dir = freshDir("strips");
    vitrine::testutil::writeGreyPng(dir / "small.png", 40, 30); // the writer makes PNGs the decoder accepts
    cv::Mat ok = image::decodeRgb(dir / "small.png");
    REQUIRE(ok.size() == cv::Size(40, 30));
    CHECK(ok.at<cv::Vec3b>(29, 0) == cv::Vec3b(29 * 37 % 256, 29 * 37 % 256, 29 * 37 % 256));

    vitrine::testutil::writeGreyPng(dir / "wide.png", 2'000'000, 1);
    vitrine::testutil::writeGreyPng(dir / "tall.png", 1, 2'000'000);
    CHECK_THAT(decodeError(dir / "wide.png"), Catch::Contains("wide.png") && Catch::Contains("2000000x1"));
    CHECK_THAT(decodeError(dir / "tall.png"), Catch::Contains("tall.png") && Catch::Contains("1x2000000"));
    auto ds = data::scanFolder(dir);
    CHECK(ds.samples.size() == 1);
    REQUIRE(ds.skipped.size() == 2);
    for (const auto& s : ds.skipped)
        CHECK_THAT(s.reason, Catch::Contains("too thin"));
}

TEST_CASE("images too thin to preprocess are refused; 100:1 still preprocesses", "[image][reliability]") {
    // Scaling the short side of a 5000x20 strip up to 224 would make it 56,000 pixels long;
    // a 200,000x2 strip would need gigabytes. Up to 100:1 the crop is still cheap.
    const auto dir = freshDir("thin");
    vitrine::testutil::writeGreyPng(dir / "250to1.png", 5000, 20);
    vitrine::testutil::writeGreyPng(dir / "100to1.png", 3000, 30);
    CHECK_THAT(decodeError(dir / "250to1.png"), Catch::Contains("too thin") && Catch::Contains("5000x20"));
    image::PreprocessOptions o;
    o.size = 64;
    auto t = image::loadPreprocessed(dir / "100to1.png", o);
    CHECK(t.sizes() == torch::IntArrayRef({3, 64, 64}));
    CHECK(torch::isfinite(t).all().item<bool>());
}

TEST_CASE("a file deleted between the scan and the load is skipped by name; the rest embeds",
          "[image][reliability][embedder]") {
    const auto dir = freshDir("deleted");
    const fs::path demo = VITRINE_TEST_DATA;
    fs::create_directories(dir / "cat");
    for (const char* name : {"Abyssinian_1.jpg", "Abyssinian_2.jpg", "Abyssinian_3.jpg"})
        fs::copy_file(demo / "cat/Abyssinian" / name, dir / "cat" / name);
    const auto ds = data::scanFolder(dir);
    REQUIRE(ds.samples.size() == 3);
    fs::remove(dir / "cat/Abyssinian_2.jpg");
    // And one replaced by a folder of the same name.
    fs::remove(dir / "cat/Abyssinian_3.jpg");
    fs::create_directories(dir / "cat/Abyssinian_3.jpg");

    auto loaded = model::loadModel("vit-micro");
    model::EmbedOptions eo;
    eo.precision = Precision::Fp32;
    std::vector<std::size_t> embedded;
    auto summary = model::embedDataset(*loaded.model, ds, eo, [&](const model::EmbeddedBatch& b) {
        embedded.insert(embedded.end(), b.indices.begin(), b.indices.end());
    });
    CHECK(embedded == std::vector<std::size_t>{0});
    REQUIRE(summary.skipped.size() == 2);
    CHECK(summary.skipped[0].path == "cat/Abyssinian_2.jpg");
    CHECK_THAT(summary.skipped[0].reason, Catch::Contains("cannot open"));
    CHECK(summary.skipped[1].path == "cat/Abyssinian_3.jpg");
    CHECK_THAT(summary.skipped[1].reason, Catch::Contains("folder"));
}
