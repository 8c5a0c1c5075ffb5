#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include "../train_test_util.h"
#include "core/analysis/inspection.h"
#include "core/common/error.h"
#include "core/image/decode.h"
#include "core/image/preprocess.h"
#include "core/image/preprocess_options.h"
#include "core/model/checkpoint.h"
#include "core/model/vit_config.h"

using namespace vitrine::core;
using image::Interpolation;
using image::PreprocessOptions;
using vitrine::testutil::TempDir;
namespace fs = std::filesystem;

namespace {

nlohmann::json json(const char* text) { return nlohmann::json::parse(text); }

void writeText(const fs::path& file, const std::string& text) {
    std::ofstream out(file);
    out << text;
    REQUIRE(out.good());
}

/// merged() must refuse `overrides` with a core::Error whose message gives `reason`.
void checkRefused(const nlohmann::json& overrides, const std::string& reason) {
    INFO("overrides " << overrides.dump());
    CHECK_THROWS_AS(PreprocessOptions{}.merged(overrides), Error);
    CHECK_THROWS_WITH(PreprocessOptions{}.merged(overrides), Catch::Contains(reason));
}

/// The message of the core::Error that readPreprocessSidecar throws for `weights`, or "" if none.
std::string sidecarError(const fs::path& weights) {
    try {
        image::readPreprocessSidecar(weights);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

/// timm / ViT AugReg: mean = std = 0.5, crop 0.9, bicubic.
PreprocessOptions augregOptions() {
    return PreprocessOptions{}.merged(
        json(R"({"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "crop_pct": 0.9, "interpolation": "bicubic"})"));
}

cv::Mat randomImage(int width, int height, std::uint64_t seed) {
    cv::Mat img(height, width, CV_8UC3);
    cv::RNG rng(seed);
    rng.fill(img, cv::RNG::UNIFORM, 0, 256);
    return img;
}

} // namespace

TEST_CASE("preprocessing defaults are ImageNet's mean/std with a plain bilinear resize", "[preprocess]") {
    const PreprocessOptions o;
    const std::array<float, 3> imagenetMean{0.485f, 0.456f, 0.406f}, imagenetStd{0.229f, 0.224f, 0.225f};
    CHECK(o.size == 224);
    CHECK(o.mean == imagenetMean);
    CHECK(o.stddev == imagenetStd);
    CHECK(o.cropPct == 1.0);
    CHECK(o.interpolation == Interpolation::Bilinear);
    CHECK(o.resizeSize() == 224);
}

TEST_CASE("merged() applies each field given and keeps the others", "[preprocess]") {
    const PreprocessOptions defaults;

    const auto mean = defaults.merged(json(R"({"mean": [0.5, 0.25, 0.125]})"));
    const std::array<float, 3> givenMean{0.5f, 0.25f, 0.125f};
    CHECK(mean.mean == givenMean);
    CHECK(mean.stddev == defaults.stddev);
    CHECK(mean.cropPct == defaults.cropPct);

    const auto sd = defaults.merged(json(R"({"std": [0.5, 0.5, 0.5]})"));
    const std::array<float, 3> givenStd{0.5f, 0.5f, 0.5f};
    CHECK(sd.stddev == givenStd);
    CHECK(sd.mean == defaults.mean);

    const auto crop = defaults.merged(json(R"({"crop_pct": 0.875})"));
    CHECK(crop.cropPct == Approx(0.875));
    CHECK(crop.interpolation == defaults.interpolation);
    CHECK(defaults.merged(json(R"({"crop_pct": 1.0})")).cropPct == 1.0); // the upper bound is allowed

    CHECK(defaults.merged(json(R"({"interpolation": "bicubic"})")).interpolation == Interpolation::Bicubic);
    CHECK(crop.merged(json(R"({"interpolation": "bilinear"})")).interpolation == Interpolation::Bilinear);
    // Hugging Face stores PIL's filter numbers.
    CHECK(defaults.merged(json(R"({"interpolation": "3"})")).interpolation == Interpolation::Bicubic);

    // An empty object changes nothing; the size is the model's and not a merged key.
    CHECK(defaults.merged(nlohmann::json::object()) == defaults);
    // toJson() gives back what merged() takes.
    const auto augreg = augregOptions();
    CHECK(defaults.merged(augreg.toJson()) == augreg);
}

TEST_CASE("merged() refuses values that cannot be right, saying why", "[preprocess]") {
    checkRefused(json(R"({"mean": [0.5, 0.5]})"), "'mean' must be 3 numbers");
    checkRefused(json(R"({"std": [0, 1, 1]})"), "std must be positive");
    checkRefused(json(R"({"crop_pct": 0})"), "outside (0, 1]");
    checkRefused(json(R"({"crop_pct": 1.5})"), "outside (0, 1]");
    checkRefused(json(R"({"interpolation": "lanczos"})"), "unknown interpolation 'lanczos'");
}

TEST_CASE("the resize before the centre crop is floor(S / crop_pct)", "[preprocess]") {
    PreprocessOptions o;
    o.size = 224;
    o.cropPct = 0.9;
    CHECK(o.resizeSize() == 248);
    o.cropPct = 0.875; // 256 exactly, not 255 from 255.99999...
    CHECK(o.resizeSize() == 256);
    o.cropPct = 1.0;
    CHECK(o.resizeSize() == 224);

    const auto augreg = augregOptions();
    CHECK_THAT(augreg.describe(), Catch::Contains("224 px") && Catch::Contains("resize 248 bicubic") &&
                                      Catch::Contains("crop 0.9") && Catch::Contains("mean 0.5 0.5 0.5") &&
                                      Catch::Contains("std 0.5 0.5 0.5"));
}

TEST_CASE("a model config carries its preprocessing through JSON; older configs get the defaults", "[preprocess]") {
    auto c = model::VitConfig::preset("vit-tiny-16");
    c.preprocess = augregOptions();
    const auto j = c.toJson();
    REQUIRE(j.contains("preprocess"));
    CHECK(j["preprocess"]["crop_pct"].get<double>() == Approx(0.9));
    CHECK(j["preprocess"]["interpolation"].get<std::string>() == "bicubic");

    const auto back = model::VitConfig::fromJson(j);
    CHECK(back.preprocess == c.preprocess);
    // The input size comes from the model, whatever the stored options' size.
    CHECK(back.inputOptions().size == back.imageSize);
    CHECK(back.inputOptions().cropPct == Approx(0.9));

    auto old = j;
    old.erase("preprocess");
    const auto legacy = model::VitConfig::fromJson(old);
    CHECK(legacy.preprocess == PreprocessOptions{});
    CHECK(legacy.preprocess.cropPct == 1.0);
    CHECK(legacy.preprocess.interpolation == Interpolation::Bilinear);

    auto bad = j;
    bad["preprocess"]["std"] = {0.5, 0.0, 0.5};
    CHECK_THROWS_AS(model::VitConfig::fromJson(bad), Error);
}

TEST_CASE("a timm config.json beside the weights gives its pretrained_cfg preprocessing", "[preprocess]") {
    TempDir dir("sidecar-timm");
    writeText(dir.path / "config.json", R"({
        "architecture": "vit_tiny_patch16_224",
        "num_classes": 1000,
        "num_features": 192,
        "pretrained_cfg": {
            "tag": "augreg_in21k_ft_in1k",
            "input_size": [3, 224, 224],
            "interpolation": "bicubic",
            "crop_pct": 0.9,
            "crop_mode": "center",
            "mean": [0.5, 0.5, 0.5],
            "std": [0.5, 0.5, 0.5],
            "num_classes": 1000
        }
    })");
    // The weights file itself need not exist: only its folder is read.
    const auto sidecar = image::readPreprocessSidecar(dir.path / "model.safetensors");
    REQUIRE(sidecar.has_value());
    const auto o = PreprocessOptions{}.merged(*sidecar);
    CHECK(o == augregOptions());
    CHECK(o.resizeSize() == 248);
}

TEST_CASE("a Hugging Face preprocessor_config.json gives mean/std, resample and crop = crop_size / size",
          "[preprocess]") {
    TempDir dir("sidecar-hf");
    // A Hugging Face folder also has a config.json, holding the architecture only: it must
    // not hide the preprocessor config.
    writeText(dir.path / "config.json", R"({"model_type": "vit", "hidden_size": 192, "image_size": 224})");
    writeText(dir.path / "preprocessor_config.json", R"({
        "do_center_crop": true,
        "do_normalize": true,
        "do_resize": true,
        "image_processor_type": "CLIPImageProcessor",
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711],
        "resample": 3,
        "size": {"shortest_edge": 256},
        "crop_size": {"height": 224, "width": 224}
    })");
    const auto sidecar = image::readPreprocessSidecar(dir.path / "model.safetensors");
    REQUIRE(sidecar.has_value());
    const auto o = PreprocessOptions{}.merged(*sidecar);
    CHECK(o.mean[0] == Approx(0.48145466f));
    CHECK(o.mean[2] == Approx(0.40821073f));
    CHECK(o.stddev[1] == Approx(0.26130258f));
    CHECK(o.interpolation == Interpolation::Bicubic);
    CHECK(o.cropPct == Approx(0.875));
    CHECK(o.resizeSize() == 256);
}

TEST_CASE("weights without a sidecar have no sidecar preprocessing", "[preprocess]") {
    TempDir dir("sidecar-none");
    CHECK_FALSE(image::readPreprocessSidecar(dir.path / "model.safetensors").has_value());
}

TEST_CASE("a malformed sidecar is refused with the sidecar file named", "[preprocess]") {
    const auto weights = [](const TempDir& d) { return d.path / "model.safetensors"; };
    SECTION("timm config.json with a zero std") {
        TempDir dir("sidecar-bad-timm");
        writeText(dir.path / "config.json", R"({"pretrained_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0, 1, 1]}})");
        CHECK_THAT(sidecarError(weights(dir)),
                   Catch::Contains("config.json") && Catch::Contains("std must be positive"));
    }
    SECTION("preprocessor_config.json with a zero std") {
        TempDir dir("sidecar-bad-hf");
        writeText(dir.path / "preprocessor_config.json", R"({"image_mean": [0.5, 0.5, 0.5], "image_std": [0, 1, 1]})");
        CHECK_THAT(sidecarError(weights(dir)),
                   Catch::Contains("preprocessor_config.json") && Catch::Contains("std must be positive"));
    }
    SECTION("preprocessor_config.json asking for a resampling filter we do not have (PIL 1, Lanczos)") {
        TempDir dir("sidecar-bad-resample");
        writeText(dir.path / "preprocessor_config.json", R"({"resample": 1})");
        CHECK_THAT(sidecarError(weights(dir)), Catch::Contains("preprocessor_config.json"));
    }
    SECTION("config.json that is not JSON") {
        TempDir dir("sidecar-not-json");
        writeText(dir.path / "config.json", "{\"pretrained_cfg\": {\"mean\": [0.5, ");
        CHECK_THAT(sidecarError(weights(dir)), Catch::Contains("config.json") && Catch::Contains("not valid JSON"));
    }
}

TEST_CASE("cropGeometry resizes the shorter side to floor(S / crop_pct) and centres the crop", "[preprocess]") {
    auto o = augregOptions();
    o.cropPct = 0.875;
    const auto g = image::cropGeometry(300, 200, o);
    CHECK(g.size == 224);
    CHECK(g.resizedHeight == 256);
    CHECK(g.resizedWidth == 384);
    CHECK(g.cropX == (384 - 224) / 2);
    CHECK(g.cropY == (256 - 224) / 2);
    // In the photo: a centred square of 0.875 x the shorter side.
    const auto r = g.sourceRect(300, 200);
    CHECK(r[0] == Approx(62.5));
    CHECK(r[1] == Approx(12.5));
    CHECK(r[2] == Approx(175.0));
    CHECK(r[3] == Approx(175.0));
}

TEST_CASE("preprocess() honours the crop fraction, the interpolation and the mean/std", "[preprocess]") {
    auto o = augregOptions();
    o.cropPct = 0.875;

    SECTION("any image becomes [3, S, S] float32") {
        const auto t = image::preprocess(randomImage(300, 200, 1), o);
        CHECK(t.sizes() == torch::IntArrayRef({3, 224, 224}));
        CHECK(t.scalar_type() == torch::kFloat32);
        CHECK(torch::isfinite(t).all().item<bool>());
        // mean = std = 0.5 maps [0, 1] to [-1, 1]; bicubic overshoot is clamped first.
        CHECK(t.min().item<double>() >= -1.0 - 1e-6);
        CHECK(t.max().item<double>() <= 1.0 + 1e-6);
    }
    SECTION("a uniform grey stays uniform and is normalised with the options' mean/std") {
        const cv::Mat grey(200, 300, CV_8UC3, cv::Scalar::all(128));
        const auto t = image::preprocess(grey, o);
        REQUIRE(t.sizes() == torch::IntArrayRef({3, 224, 224}));
        const double expected = (128.0 / 255.0 - 0.5) / 0.5;
        CHECK((t - expected).abs().max().item<double>() <= 1e-5);
    }
    SECTION("an image already at the resize size is only cropped: the centre S x S pixels") {
        const auto img = randomImage(256, 256, 2);
        const auto t = image::preprocess(img, o);
        REQUIRE(t.sizes() == torch::IntArrayRef({3, 224, 224}));
        const cv::Mat centre = img(cv::Rect(16, 16, 224, 224)).clone();
        CHECK(cv::norm(image::toDisplayImage(t, o), centre, cv::NORM_INF) == 0.0);
    }
    SECTION("bicubic and bilinear resizing give different pixels") {
        const auto img = randomImage(300, 200, 3);
        auto bilinear = o;
        bilinear.interpolation = Interpolation::Bilinear;
        const auto a = image::preprocess(img, o);
        const auto b = image::preprocess(img, bilinear);
        REQUIRE(a.sizes() == b.sizes());
        CHECK((a - b).abs().max().item<double>() > 1e-3);
    }
}

TEST_CASE("normalizeSquares normalises training crops exactly as preprocess() does", "[preprocess]") {
    auto o = augregOptions();
    o.cropPct = 1.0; // an S x S image then passes through preprocess() unresampled
    const auto a = randomImage(224, 224, 4), b = randomImage(224, 224, 5);
    const auto batch = image::normalizeSquares({a, b}, o);
    REQUIRE(batch.sizes() == torch::IntArrayRef({2, 3, 224, 224}));
    CHECK((batch[0] - image::preprocess(a, o)).abs().max().item<double>() <= 1e-6);
    CHECK((batch[1] - image::preprocess(b, o)).abs().max().item<double>() <= 1e-6);
    // The options' mean/std, not ImageNet's.
    CHECK((batch - image::normalizeSquares({a, b}, PreprocessOptions{})).abs().max().item<double>() > 0.1);
}

TEST_CASE("embed, training's validation, eval and the Inspector see the same pixels of a file", "[preprocess]") {
    // A photo large enough for JPEG DCT scaling to apply (short side >= 2 x 248).
    TempDir dir("same-pixels");
    const fs::path demo(VITRINE_TEST_DATA);
    cv::Mat small = vitrine::core::image::decodeRgb(demo / "cat/Abyssinian/Abyssinian_1.jpg");
    cv::Mat big, bgr;
    cv::resize(small, big, cv::Size(small.cols * 8, small.rows * 8), 0, 0, cv::INTER_CUBIC);
    cv::cvtColor(big, bgr, cv::COLOR_RGB2BGR);
    const auto file = dir.path / "big.jpg";
    REQUIRE(cv::imwrite(file.string(), bgr));

    auto loaded = vitrine::core::model::loadModel("vit-tiny-16-augreg");
    if (!loaded.weightsLoaded) {
        WARN("bundled vit-tiny-16-augreg missing; skipped");
        return;
    }
    const auto options = loaded.model->config().inputOptions();
    // embed, the trainer's validation, eval and query-by-image all call loadPreprocessed.
    const at::Tensor input = vitrine::core::image::loadPreprocessed(file, options);
    // The Inspector decodes with decodeForModel and shows the model input it ran on.
    const auto inspected = vitrine::core::analysis::inspectImage(*loaded.model,
                                                                 vitrine::core::image::decodeForModel(file, options));
    const cv::Mat expected = vitrine::core::image::toDisplayImage(input, options);
    REQUIRE(inspected.input.size() == expected.size());
    CHECK(cv::norm(inspected.input, expected, cv::NORM_INF) == 0);
    // A plain full-size decode gives other values here (DCT scaling), which is why every path
    // decodes with decodeForModel.
    const cv::Mat full = vitrine::core::image::decodeRgb(file);
    const cv::Mat reduced = vitrine::core::image::decodeForModel(file, options);
    INFO("full decode " << full.cols << "x" << full.rows << ", model decode " << reduced.cols << "x" << reduced.rows);
    CHECK(reduced.rows < full.rows);
    const at::Tensor plain = vitrine::core::image::preprocess(full, options);
    CHECK((plain - input).abs().max().item<double>() > 1e-4);
}
