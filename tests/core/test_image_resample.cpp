// The one-pass model-input resample (core/image/resample.h) against ATen's kernels, and the
// JPEG window decode (core/image/jpeg_window.h) against the whole-image decode.
#include "core/image/decode.h"
#include "core/image/preprocess.h"
#include "core/image/resample.h"
#include "core/model/checkpoint.h"
#include "core/model/model_paths.h"
#include "core/model/vit.h"
#include "tests/support/temp_dir.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <torch/torch.h>
#include <vector>

using namespace vitrine::core;
using vitrine::testutil::TempDir;
namespace fs = std::filesystem;

namespace {

// What preprocess() computed before the one-pass resample: torchvision's eval transform on
// tensors with ATen's antialiased kernels (the reference the resample is measured against).
at::Tensor atenPreprocess(const cv::Mat& rgb, const image::PreprocessOptions& o) {
    cv::Mat src = rgb.isContinuous() ? rgb : rgb.clone();
    auto t = torch::from_blob(src.data, {src.rows, src.cols, 3}, torch::kUInt8)
                 .permute({2, 0, 1})
                 .unsqueeze(0)
                 .to(torch::kFloat)
                 .div_(255.0f);
    const auto g = image::cropGeometry(src.cols, src.rows, o);
    if (g.resizedWidth != src.cols || g.resizedHeight != src.rows) {
        const std::vector<int64_t> out{g.resizedHeight, g.resizedWidth};
        if (o.interpolation == image::Interpolation::Bicubic)
            t = at::_upsample_bicubic2d_aa(t, out, /*align_corners=*/false).clamp_(0.0f, 1.0f);
        else
            t = at::_upsample_bilinear2d_aa(t, out, /*align_corners=*/false);
    }
    t = t.slice(2, g.cropY, g.cropY + o.size).slice(3, g.cropX, g.cropX + o.size).squeeze(0);
    auto mean = torch::tensor({o.mean[0], o.mean[1], o.mean[2]}).view({3, 1, 1});
    auto sd = torch::tensor({o.stddev[0], o.stddev[1], o.stddev[2]}).view({3, 1, 1});
    return ((t - mean) / sd).contiguous();
}

std::vector<fs::path> demoJpegs(std::size_t n) {
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(fs::path(VITRINE_TEST_DATA)))
        if (e.path().extension() == ".jpg")
            files.push_back(e.path());
    std::sort(files.begin(), files.end());
    // Every k-th file: landscape and portrait photos of the demo set's few sizes.
    std::vector<fs::path> picked;
    const std::size_t step = std::max<std::size_t>(1, files.size() / n);
    for (std::size_t i = 0; i < files.size() && picked.size() < n; i += step)
        picked.push_back(files[i]);
    return picked;
}

} // namespace

TEST_CASE("the one-pass resample equals ATen's antialiased resize, crop and normalise", "[preprocess][resample]") {
    // Random noise is the worst case for rounding differences. Sizes cover downscaling (long
    // filters, taps clipped at the edges), upscaling, an unchanged axis and tiny crops.
    // Measured worst |diff| over 200 such cases: 4.3e-6 (normalised units; one 8-bit level is
    // about 0.017): float rounding order only, since ATen's AVX2 build fuses multiply-adds. A
    // wrong weight, tap or crop offset moves values by 1e-2 and more.
    std::mt19937 rng(7);
    double worst = 0;
    for (int i = 0; i < 60; ++i) {
        const int w = 3 + static_cast<int>(rng() % 700), h = 3 + static_cast<int>(rng() % 700);
        if (std::max(w, h) > 50 * std::min(w, h))
            continue;
        cv::Mat img(h, w, CV_8UC3);
        cv::RNG(rng()).fill(img, cv::RNG::UNIFORM, 0, 256);
        image::PreprocessOptions o;
        o.size = 1 + static_cast<int>(rng() % 230);
        o.cropPct = (rng() % 2) ? 1.0 : 0.875;
        o.interpolation = (rng() % 2) ? image::Interpolation::Bicubic : image::Interpolation::Bilinear;
        o.mean = {0.5f, 0.4f, 0.3f};
        o.stddev = {0.2f, 0.25f, 0.3f};
        const auto expected = atenPreprocess(img, o);
        const auto got = image::preprocess(img, o);
        REQUIRE(got.sizes() == expected.sizes());
        worst = std::max(worst, (got - expected).abs().max().item<double>());
    }
    CHECK(worst <= 1e-5);
    // A sub-image (row stride wider than its width) reads the same pixels.
    cv::Mat big(300, 400, CV_8UC3);
    cv::RNG(3).fill(big, cv::RNG::UNIFORM, 0, 256);
    const cv::Mat part = big(cv::Rect(50, 20, 250, 180));
    image::PreprocessOptions o;
    CHECK((image::preprocess(part, o) - atenPreprocess(part.clone(), o)).abs().max().item<double>() <= 1e-5);
}

TEST_CASE("real photos: one-pass resample and JPEG window decode against the ATen path on whole images",
          "[preprocess][resample]") {
    for (const auto& file : demoJpegs(24)) {
        INFO(file.string());
        image::PreprocessOptions o;
        // The OpenCV decode the model path used before: the windowed libjpeg decode gives
        // its pixels exactly.
        image::DecodeOptions d;
        d.minShortSide = 2 * o.resizeSize();
        const cv::Mat whole = image::decodeRgb(file, d);
        const cv::Mat forModel = image::decodeForModel(file, o);
        REQUIRE(forModel.size() == whole.size());
        CHECK(cv::norm(forModel, whole, cv::NORM_INF) == 0.0);
        // Windowed decode + one-pass resample: the same numbers as the resample of the whole
        // image, bit for bit, and within float rounding of ATen's path (measured <= 1.2e-6
        // on 940 pet photos).
        const auto fromFile = image::loadPreprocessed(file, o);
        CHECK(torch::equal(fromFile, image::preprocess(whole, o)));
        CHECK((fromFile - atenPreprocess(whole, o)).abs().max().item<double>() <= 1e-5);
    }
}

TEST_CASE("a JPEG window holds the pixels of the whole decode, DCT-scaled, wide and tall", "[preprocess][resample]") {
    TempDir dir("jpeg-window");
    cv::Mat src(900, 1300, CV_8UC3);
    cv::RNG(11).fill(src, cv::RNG::NORMAL, 128, 60);
    cv::GaussianBlur(src, src, cv::Size(0, 0), 2.0); // photo-like: noise alone compresses badly
    for (const bool tall : {false, true}) {
        cv::Mat img = src;
        if (tall)
            img = src.t();
        // Colour (4:2:0, whose upsampler reads across the window's edges), grey (one
        // component, expanded to RGB by libjpeg) and progressive colour.
        for (const int kind : {0, 1, 2}) {
            const bool grey = kind == 1;
            const auto file = dir.path / ("w" + std::to_string(tall) + std::to_string(kind) + ".jpg");
            cv::Mat written;
            if (grey)
                cv::cvtColor(img, written, cv::COLOR_BGR2GRAY);
            else
                written = img;
            REQUIRE(cv::imwrite(file.string(), written, {cv::IMWRITE_JPEG_PROGRESSIVE, kind == 2}));
            // DCT scale 1 (900 < 2 x 2 x 448), 1/2 (900 >= 2 x 2 x 224), 1/4 (900 >= 4 x 2 x 96).
            for (const int size : {448, 224, 96}) {
                INFO((tall ? "tall " : "wide ") << (grey        ? "grey"
                                                    : kind == 2 ? "progressive"
                                                                : "colour")
                                                << " size " << size);
                image::PreprocessOptions o;
                o.size = size;
                const cv::Mat whole = image::decodeForModel(file, o);
                image::DecodeOptions d;
                d.minShortSide = 2 * o.resizeSize();
                // The whole image equals OpenCV's decode (decodeRgb) with the same DCT scale.
                const cv::Mat opencv = image::decodeRgb(file, d);
                REQUIRE(opencv.size() == whole.size());
                CHECK(whole.cols == (tall ? 900 : 1300) / (size == 96 ? 4 : size == 224 ? 2 : 1));
                CHECK(cv::norm(whole, opencv, cv::NORM_INF) == 0.0);
                // Windows starting at, just after and between iMCU boundaries: libjpeg crops
                // columns to whole iMCUs, and without a margin the chroma upsampler changes the
                // pixels next to the crop's edge (mutation check: kMargin = 0 fails here).
                for (const int x : {1, 5, 16, 17, 33}) {
                    const cv::Rect want(x, whole.rows / 5 + 1, whole.cols / 2, whole.rows / 3);
                    const auto region = image::decodeRgbRegion(file, d, [&](int w, int h) {
                        CHECK(w == whole.cols);
                        CHECK(h == whole.rows);
                        return want;
                    });
                    // Only part of the image was decoded...
                    CHECK(region.rgb.rows == want.height);
                    CHECK(region.rgb.cols < whole.cols);
                    // ...and it holds the whole decode's pixels there.
                    const cv::Rect inRegion(want.x - region.x, want.y - region.y, want.width, want.height);
                    REQUIRE((inRegion & cv::Rect(0, 0, region.rgb.cols, region.rgb.rows)) == inRegion);
                    CHECK(cv::norm(region.rgb(inRegion), whole(want), cv::NORM_INF) == 0.0);
                }
                CHECK(torch::equal(image::loadPreprocessed(file, o), image::preprocess(whole, o)));
            }
        }
    }
}

TEST_CASE("the bundled model embeds one-pass inputs as it embeds ATen-path inputs", "[preprocess][resample][bundled]") {
    if (model::bundledModelPath("vit-tiny-16-augreg").empty()) {
        WARN("bundled vit-tiny-16-augreg missing; skipped");
        return;
    }
    auto loaded = model::loadModel("vit-tiny-16-augreg");
    REQUIRE(loaded.weightsLoaded);
    const auto o = loaded.model->config().inputOptions();
    std::vector<at::Tensor> fast, exact;
    for (const auto& file : demoJpegs(32)) {
        fast.push_back(image::loadPreprocessed(file, o));
        exact.push_back(atenPreprocess(image::decodeForModel(file, o), o));
    }
    torch::NoGradGuard noGrad;
    const auto a = loaded.model->embed(torch::stack(fast));
    const auto b = loaded.model->embed(torch::stack(exact));
    const double minCosine = torch::cosine_similarity(a, b, 1).min().item<double>();
    // Measured: 1.0 to float precision (inputs differ by <= 1.2e-6); the goal is >= 0.999.
    CAPTURE(minCosine);
    CHECK(minCosine >= 0.99999);
}
