#include <catch2/catch.hpp>

#include <filesystem>

#include <opencv2/core.hpp>
#include <torch/torch.h>

#include "core/image/decode.h"
#include "core/image/preprocess.h"
#include "core/model/safetensors.h"

using namespace vitrine::core;
namespace fs = std::filesystem;

TEST_CASE("preprocessing equals torchvision Resize(antialias)+CenterCrop+Normalize", "[model][preprocess]") {
    const fs::path dir = fs::path(VITRINE_FIXTURES) / "model";
    auto rgb = image::decodeRgb(dir / "preprocess_45x30.png");
    REQUIRE(rgb.cols == 45);
    REQUIRE(rgb.rows == 30);
    image::PreprocessOptions o;
    o.size = 16;
    auto got = image::preprocess(rgb, o);
    auto expected = model::readSafetensors(dir / "preprocess_45x30.safetensors").tensors.at("expected");
    REQUIRE(got.sizes() == expected.sizes());
    CHECK((got - expected).abs().max().item<double>() <= 1e-4);
}

TEST_CASE("an S x S image passes through unresampled; the shorter side is resized to S", "[model][preprocess]") {
    cv::Mat img(8, 8, CV_8UC3);
    cv::randu(img, 0, 256);
    image::PreprocessOptions o;
    o.size = 8;
    auto t = image::preprocess(img, o);
    // Undo the normalisation: exactly the input pixels.
    auto back = image::toDisplayImage(t, o);
    CHECK(cv::norm(back, img, cv::NORM_INF) == 0.0);

    auto g = image::cropGeometry(45, 30, 16);
    CHECK(g.resizedHeight == 16);
    CHECK(g.resizedWidth == 24);
    CHECK(g.cropX == 4);
    CHECK(g.cropY == 0);
    auto tall = image::cropGeometry(300, 500, 224);
    CHECK(tall.resizedWidth == 224);
    CHECK(tall.resizedHeight == 373);
    CHECK(tall.cropY == 74);

    cv::Mat wide(30, 90, CV_8UC3, cv::Scalar(10, 200, 30));
    auto w = image::preprocess(wide, o);
    CHECK(w.sizes() == torch::IntArrayRef({3, 8, 8}));
    // A flat colour stays flat through the antialiased resize.
    CHECK((w - w.mean({1, 2}, true)).abs().max().item<double>() <= 1e-5);
    auto batch = image::preprocessBatch({img, wide}, o);
    CHECK(batch.sizes() == torch::IntArrayRef({2, 3, 8, 8}));
}
