#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "../train_test_util.h"
#include "core/image/preprocess.h"
#include "core/model/checkpoint.h"
#include "core/model/model_paths.h"
#include "core/model/safetensors.h"
#include "core/model/vit.h"
#include "core/train/evaluate.h"

using namespace vitrine::core;
using namespace vitrine::core::model;
using vitrine::testutil::TempDir;
namespace fs = std::filesystem;

namespace {

constexpr const char* kBundledName = "vit-tiny-16-augreg";

double maxAbs(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

torch::Tensor l2Normalised(const torch::Tensor& rows) {
    return torch::nn::functional::normalize(rows, torch::nn::functional::NormalizeFuncOptions().dim(1));
}

/// The float32 original the bundled file was converted from, or "" when this machine does not
/// have it (CI). $VITRINE_SHARED_MODELS names the folder holding vit-tiny-16-augreg/; without
/// it, shared/models/ beside the source tree.
fs::path float32Original() {
    fs::path models;
    if (const char* env = std::getenv("VITRINE_SHARED_MODELS"); env && *env)
        models = env;
    else // VITRINE_TEST_DATA is <source>/resources/demo
        models = fs::path(VITRINE_TEST_DATA).parent_path().parent_path().parent_path() / "shared" / "models";
    const auto file = models / "vit-tiny-16-augreg" / "vit_tiny_patch16_224_augreg_in21k_ft_in1k.safetensors";
    std::error_code ec;
    return fs::is_regular_file(file, ec) ? file : fs::path();
}

/// The first two photos (sorted by name) of two cat and two dog breeds: 8 files.
std::vector<fs::path> eightDemoPhotos() {
    std::vector<fs::path> out;
    for (const char* breed : {"cat/Abyssinian", "cat/Bengal", "dog/beagle", "dog/pug"}) {
        std::vector<fs::path> files;
        for (const auto& e : fs::directory_iterator(fs::path(VITRINE_TEST_DATA) / breed))
            if (e.is_regular_file() && e.path().extension() == ".jpg")
                files.push_back(e.path());
        std::sort(files.begin(), files.end());
        out.insert(out.end(), files.begin(), files.begin() + std::min<std::ptrdiff_t>(2, std::ssize(files)));
    }
    return out;
}

} // namespace

TEST_CASE("the bundled ViT-Ti/16 AugReg loads with its architecture and its own preprocessing", "[model][bundled]") {
    const auto path = bundledModelPath(kBundledName);
    if (path.empty()) {
        WARN("resources/models/vit-tiny-16-augreg.safetensors is not there: skipped");
        return;
    }
    auto loaded = loadModel(kBundledName);
    CHECK(loaded.weightsLoaded);
    // A Vitrine file: the preprocessing travels in its config, no sidecar needed.
    CHECK(loaded.layout == "vitrine");
    CHECK(fs::equivalent(loaded.source, path));

    const auto& c = loaded.model->config();
    CHECK(c.dim == 192);
    CHECK(c.depth == 12);
    CHECK(c.heads == 3);
    CHECK(c.patchSize == 16);
    CHECK(c.imageSize == 224);

    // AugReg was trained with mean = std = 0.5, not ImageNet's, and timm's crop 0.9 bicubic.
    const auto p = c.inputOptions();
    CHECK(p.size == 224);
    for (int ch = 0; ch < 3; ++ch) {
        CHECK(p.mean[ch] == Approx(0.5f));
        CHECK(p.stddev[ch] == Approx(0.5f));
    }
    CHECK(p.cropPct == Approx(0.9));
    CHECK(p.interpolation == image::Interpolation::Bicubic);
    CHECK(p.resizeSize() == 248);

    // Stored as float16, run as float32.
    for (const auto& e : readSafetensorsHeader(path).entries) {
        INFO(e.name);
        CHECK(e.dtype == "F16");
    }
    for (const auto& param : loaded.model->named_parameters()) {
        INFO(param.key());
        CHECK(param.value().scalar_type() == torch::kFloat32);
    }
}

TEST_CASE("the bundled float16 ViT-Ti/16 gives the float32 original's class tokens", "[model][bundled]") {
    if (bundledModelPath(kBundledName).empty()) {
        WARN("resources/models/vit-tiny-16-augreg.safetensors is not there: skipped");
        return;
    }
    const auto originalFile = float32Original();
    if (originalFile.empty()) {
        WARN("the float32 ViT-Ti/16 AugReg original is not on this machine (set VITRINE_SHARED_MODELS): skipped");
        return;
    }
    const auto photos = eightDemoPhotos();
    REQUIRE(photos.size() == 8);

    auto bundled = loadModel(kBundledName);
    auto original = loadModel(originalFile.string());
    REQUIRE(original.weightsLoaded);
    CHECK(original.layout == "timm");
    CHECK(original.model->config().dim == bundled.model->config().dim);

    // The same pixels into both: the bundled model's own preprocessing.
    const auto options = bundled.model->config().inputOptions();
    std::vector<torch::Tensor> inputs;
    for (const auto& f : photos)
        inputs.push_back(image::loadPreprocessed(f, options));
    const auto x = torch::stack(inputs);

    torch::InferenceMode guard;
    const auto a = bundled.model->forward(x).cls;
    const auto b = original.model->forward(x).cls;
    REQUIRE(a.sizes() == torch::IntArrayRef({8, 192}));
    const auto cosine = torch::cosine_similarity(a, b, /*dim=*/1);
    INFO("cosine per photo: " << cosine);
    CHECK(cosine.min().item<double>() >= 0.9999);
    // Not a vacuous agreement: a cat's and a dog's class tokens differ.
    CHECK(torch::cosine_similarity(a[0], a[7], /*dim=*/0).item<double>() < 0.99);
}

TEST_CASE("addIdentityHead gives a head-less model an identity head: embedding = L2-normalised class token",
          "[model][checkpoint]") {
    const fs::path fixtures = fs::path(VITRINE_FIXTURES) / "model";
    const auto input = readSafetensors(fixtures / "vit_io.safetensors").tensors.at("input");
    const auto file = (fixtures / "timm_vit.safetensors").string(); // dim 32, no head
    LoadOptions o;
    o.heads = 2; // dim 32 is not a multiple of 64: the head count must be given

    auto plain = loadModel(file, o);
    REQUIRE(plain.model->config().embedDim == 0);

    o.addIdentityHead = true;
    auto headed = loadModel(file, o);
    const auto& c = headed.model->config();
    CHECK(c.embedDim == c.dim);
    CHECK(c.outputDim() == 32);
    REQUIRE_FALSE(headed.model->head.is_empty());
    CHECK(torch::equal(headed.model->head->weight, torch::eye(c.dim)));
    CHECK(torch::equal(headed.model->head->bias, torch::zeros({c.dim})));

    torch::Tensor expected;
    {
        torch::InferenceMode guard;
        const auto out = headed.model->forward(input);
        expected = l2Normalised(out.cls);
        CHECK(maxAbs(headed.model->embed(input), expected) <= 1e-5);
        CHECK(maxAbs(out.embedding, expected) <= 1e-5);
        // The backbone is the file's, untouched by the new head.
        CHECK(maxAbs(out.cls, plain.model->forward(input).cls) <= 1e-6);
    }

    SECTION("the identity head is saved with the model, so a fine-tuned head survives") {
        TempDir tmp("identity-head");
        saveCheckpoint(tmp.path / "headed.safetensors", *headed.model);
        auto back = loadModel((tmp.path / "headed.safetensors").string());
        CHECK(back.model->config().embedDim == 32);
        CHECK(torch::equal(back.model->head->weight, torch::eye(32)));
        torch::InferenceMode guard;
        CHECK(maxAbs(back.model->embed(input), expected) <= 1e-5);
    }
    SECTION("a model with its own head keeps it") {
        TempDir tmp("identity-head-kept");
        const auto tiny = vitrine::testutil::writeTinyModel(tmp.path / "tiny.safetensors"); // 16-d head
        LoadOptions keep;
        keep.addIdentityHead = true;
        auto withHead = loadModel(tiny.string(), keep);
        CHECK(withHead.model->config().embedDim == 16);
        CHECK(torch::equal(withHead.model->head->weight, loadModel(tiny.string()).model->head->weight));
    }
}

TEST_CASE("a float16 checkpoint is half the size and reads back as float32 within float16 rounding",
          "[model][checkpoint]") {
    TempDir tmp("half-checkpoint");
    const auto full = tmp.path / "full.safetensors", half = tmp.path / "half.safetensors";
    auto original = loadModel("vit-micro"); // random, seeded
    saveCheckpoint(full, *original.model);
    saveCheckpoint(half, *original.model, nlohmann::json::object(), {}, /*half=*/true);

    const double ratio = static_cast<double>(fs::file_size(half)) / static_cast<double>(fs::file_size(full));
    INFO("float16 / float32 file size: " << ratio);
    CHECK(ratio == Approx(0.5).margin(0.02));
    for (const auto& e : readSafetensorsHeader(half).entries) {
        INFO(e.name);
        CHECK(e.dtype == "F16");
    }

    auto back = loadModel(half.string());
    CHECK(back.weightsLoaded);
    CHECK(back.layout == "vitrine");
    const auto originalParams = original.model->named_parameters();
    bool anyRounded = false;
    for (const auto& p : back.model->named_parameters()) {
        INFO(p.key());
        const auto& before = originalParams[p.key()];
        CHECK(p.value().scalar_type() == torch::kFloat32);
        // float16 keeps 11 significant bits (relative error <= 2^-11 ~ 4.9e-4); below its
        // smallest normal (6.1e-5) the spacing is 6e-8, hence the small absolute term.
        CHECK(torch::allclose(p.value(), before, /*rtol=*/1e-3, /*atol=*/1e-7));
        anyRounded = anyRounded || !torch::equal(p.value(), before);
    }
    CHECK(anyRounded); // it really went through float16

    torch::manual_seed(5);
    const auto x = torch::randn({2, 3, 96, 96});
    torch::InferenceMode guard;
    const auto cosine = torch::cosine_similarity(original.model->embed(x), back.model->embed(x), /*dim=*/1);
    CHECK(cosine.min().item<double>() >= 0.999);
}

TEST_CASE("preprocessing given at load time is stored in the checkpoint and can be overridden again",
          "[model][checkpoint]") {
    TempDir tmp("preprocess-checkpoint");
    LoadOptions o;
    o.preprocess = nlohmann::json::parse(
        R"({"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "crop_pct": 0.9, "interpolation": "bicubic"})");
    auto loaded = loadModel("vit-micro", o);
    const auto expected = image::PreprocessOptions{}.merged(o.preprocess);
    CHECK(loaded.model->config().preprocess == expected);

    const auto file = tmp.path / "micro.safetensors";
    saveCheckpoint(file, *loaded.model, nlohmann::json::object(), {}, /*half=*/true);
    auto back = loadModel(file.string());
    CHECK(back.model->config().preprocess == expected);
    CHECK(back.model->config().inputOptions().size == 96);

    LoadOptions crop;
    crop.preprocess = nlohmann::json::parse(R"({"crop_pct": 1.0})");
    const auto overridden = loadModel(file.string(), crop).model->config().preprocess;
    CHECK(overridden.cropPct == 1.0);
    CHECK(overridden.mean == expected.mean); // the rest still the file's
    CHECK(overridden.interpolation == image::Interpolation::Bicubic);

    LoadOptions bad;
    bad.preprocess = nlohmann::json::parse(R"({"std": [0, 1, 1]})");
    CHECK_THROWS_WITH(loadModel(file.string(), bad),
                      Catch::Contains("micro.safetensors") && Catch::Contains("std must be positive"));
}

TEST_CASE("the default model finds breeds and species far better than raw pixels", "[model][bundled]") {
    if (bundledModelPath("default").empty()) {
        WARN("resources/models/default.safetensors is missing; skipped");
        return;
    }
    // The demo photos, validation split. (They are Oxford-IIIT Pet photos too, so some may have
    // been training photos of the default model's head under another path: the floors sit far
    // below the measured figures and only say that the model learned something real.)
    const fs::path demo(VITRINE_TEST_DATA);
    train::EvalOptions o;
    o.labelLevel = -1;
    const auto model = train::evaluateModel("default", demo, o);
    const auto pixels = train::evaluatePixelBaseline(demo, o);
    INFO("breed MAP@R: default " << model.metrics.mapAtR << ", pixels " << pixels.metrics.mapAtR);
    CHECK(model.metrics.mapAtR > pixels.metrics.mapAtR + 0.25); // measured 0.636 vs 0.100
    CHECK(model.metrics.precisionAt1 > 0.5);                    // measured 0.696
    o.labelLevel = 0;
    const auto species = train::evaluateModel("default", demo, o);
    CHECK(species.metrics.mapAtR > 0.7); // measured 0.845 (pixels 0.417)
}
