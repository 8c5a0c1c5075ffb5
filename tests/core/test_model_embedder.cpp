#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <torch/torch.h>

#include "core/common/error.h"
#include "core/image/preprocess.h"
#include "core/model/embedder.h"
#include "core/model/vit.h"

using namespace vitrine::core;
using namespace vitrine::core::model;
namespace fs = std::filesystem;

namespace {

std::vector<fs::path> demoImages(std::size_t n) {
    std::vector<fs::path> out;
    for (const char* d : {"cat/Abyssinian", "dog/beagle", "cat/Bengal", "dog/pug"}) {
        const auto dir = fs::path(VITRINE_TEST_DATA) / d;
        if (!fs::is_directory(dir))
            continue;
        std::vector<fs::path> files;
        for (const auto& e : fs::directory_iterator(dir))
            files.push_back(e.path());
        std::sort(files.begin(), files.end());
        for (std::size_t i = 0; i < files.size() && i < 2; ++i)
            out.push_back(files[i]);
    }
    out.resize(std::min(out.size(), n));
    return out;
}

Vit smallModel() {
    torch::manual_seed(11);
    auto c = VitConfig::preset("vit-micro");
    c.imageSize = 32;
    c.depth = 2;
    Vit vit(c);
    vit->eval();
    return vit;
}

} // namespace

TEST_CASE("streamed embeddings equal a direct forward, in order, skipping broken files", "[model][embedder]") {
    auto files = demoImages(5);
    REQUIRE(files.size() == 5);
    const auto broken = fs::temp_directory_path() / ("vitrine_broken_" + std::to_string(::getpid()) + ".jpg");
    std::ofstream(broken) << "<html>not a jpeg</html>";
    files.insert(files.begin() + 2, broken);

    auto vit = smallModel();
    EmbedOptions o;
    o.batchSize = 2;
    o.precision = Precision::Fp32;
    std::vector<std::size_t> order;
    std::vector<float> rows;
    std::vector<std::pair<long long, long long>> progress;
    auto summary = embedFiles(
        *vit, files, o,
        [&](const EmbeddedBatch& b) {
            order.insert(order.end(), b.indices.begin(), b.indices.end());
            rows.insert(rows.end(), b.rows, b.rows + b.indices.size() * b.dim);
        },
        [&](long long d, long long t, const std::string&) { progress.emplace_back(d, t); });
    fs::remove(broken);
    CHECK(summary.embedded == 5);
    REQUIRE(summary.skipped.size() == 1);
    CHECK(summary.skipped[0].path == broken.string());
    CHECK(order == std::vector<std::size_t>{0, 1, 3, 4, 5});
    REQUIRE(!progress.empty());
    CHECK(progress.back() == std::make_pair(6LL, 6LL));

    image::PreprocessOptions p;
    p.size = 32;
    torch::InferenceMode guard;
    auto direct = vit->embed(torch::stack({image::loadPreprocessed(files[0], p), image::loadPreprocessed(files[5], p)}));
    auto streamed = torch::from_blob(rows.data(), {5, 128});
    CHECK((streamed[0] - direct[0]).abs().max().item<double>() <= 1e-5);
    CHECK((streamed[4] - direct[1]).abs().max().item<double>() <= 1e-5);
}

TEST_CASE("bf16 autocast embeddings stay close to fp32", "[model][embedder]") {
    auto files = demoImages(4);
    auto vit = smallModel();
    auto collect = [&](Precision prec) {
        EmbedOptions o;
        o.precision = prec;
        std::vector<float> rows;
        embedFiles(*vit, files, o, [&](const EmbeddedBatch& b) { rows.insert(rows.end(), b.rows, b.rows + b.indices.size() * b.dim); });
        return torch::from_blob(rows.data(), {static_cast<long>(files.size()), 128}).clone();
    };
    auto a = collect(Precision::Fp32), b = collect(Precision::Bf16);
    auto cos = torch::cosine_similarity(a, b, 1);
    CHECK(cos.min().item<double>() >= 0.99);
}

TEST_CASE("embedding stops with Cancelled when the token is set", "[model][embedder]") {
    auto files = demoImages(4);
    auto vit = smallModel();
    CancelToken cancel;
    EmbedOptions o;
    o.batchSize = 1;
    int batches = 0;
    CHECK_THROWS_AS(embedFiles(*vit, files, o, [&](const EmbeddedBatch&) {
        if (++batches == 1)
            cancel.cancel();
    }, {}, &cancel), Cancelled);
    CHECK(batches == 1);
}
