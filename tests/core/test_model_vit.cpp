#include <catch2/catch.hpp>

#include "tests/support/temp_dir.h"

#include <filesystem>
#include <fstream>

#include <torch/torch.h>

#include "core/common/error.h"
#include "core/model/checkpoint.h"
#include "core/model/safetensors.h"
#include "core/model/vit.h"

using namespace vitrine::core;
using namespace vitrine::core::model;
namespace fs = std::filesystem;

namespace {

fs::path fixture(const std::string& name) { return fs::path(VITRINE_FIXTURES) / "model" / name; }

double maxAbs(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

using vitrine::testutil::TempDir; // tests/support/temp_dir.h

} // namespace

TEST_CASE("all three checkpoint layouts reproduce torchvision's class token", "[model]") {
    auto io = readSafetensors(fixture("vit_io.safetensors"));
    const auto& input = io.tensors.at("input");
    for (const auto& [file, layout] :
         std::vector<std::pair<std::string, std::string>>{{"tv_vit.safetensors", "torchvision"},
                                                          {"timm_vit.safetensors", "timm"},
                                                          {"hf_vit.safetensors", "huggingface"}}) {
        SECTION(layout) {
            LoadOptions o;
            o.heads = 2; // dim 32 is not a multiple of 64: head count must be given
            auto loaded = loadModel(fixture(file).string(), o);
            // Hugging Face ViT's LayerNorm eps is 1e-12, the reference was computed with it.
            const auto& expected = io.tensors.at(layout == "huggingface" ? "cls_hf" : "cls");
            CHECK(loaded.layout == layout);
            CHECK(loaded.weightsLoaded);
            const auto& c = loaded.model->config();
            CHECK(c.dim == 32);
            CHECK(c.depth == 2);
            CHECK(c.patchSize == 8);
            CHECK(c.imageSize == 32);
            CHECK(c.embedDim == 0);
            torch::InferenceMode guard;
            auto out = loaded.model->forward(input, /*withAttention=*/true);
            CHECK(maxAbs(out.cls, expected) <= 1e-4);
            if (layout != "huggingface")
                CHECK(maxAbs(out.patches, io.tensors.at("patches")) <= 1e-4);
            CHECK(maxAbs(out.embedding, expected) <= 1e-4); // no head: the class token
            CHECK(maxAbs(out.attentions.at(0), io.tensors.at("attn0")) <= (layout == "huggingface" ? 1e-3 : 1e-5));
            CHECK(maxAbs(loaded.model->embed(input), expected) <= 1e-4);
        }
    }
}

TEST_CASE("the head count of a foreign file with dim not a multiple of 64 must be given", "[model]") {
    try {
        loadModel(fixture("timm_vit.safetensors").string());
        FAIL("expected an error");
    } catch (const Error& e) {
        CHECK_THAT(e.what(), Catch::Contains("--heads"));
    }
}

TEST_CASE("attention maps have [B, H, N+1, N+1] shape and rows summing to 1", "[model]") {
    torch::manual_seed(3);
    VitConfig c = VitConfig::preset("vit-micro");
    c.depth = 2;
    Vit vit(c);
    vit->eval();
    torch::InferenceMode guard;
    auto x = torch::randn({3, 3, c.imageSize, c.imageSize});
    auto out = vit->forward(x, true);
    REQUIRE(out.attentions.size() == 2);
    const auto t = c.numPatches() + 1;
    for (const auto& a : out.attentions) {
        CHECK(a.sizes() == torch::IntArrayRef({3, c.heads, t, t}));
        CHECK(maxAbs(a.sum(-1), torch::ones({3, c.heads, t})) <= 1e-5);
    }
    CHECK(out.cls.sizes() == torch::IntArrayRef({3, c.dim}));
    CHECK(out.patches.sizes() == torch::IntArrayRef({3, c.numPatches(), c.dim}));
    CHECK(out.embedding.sizes() == torch::IntArrayRef({3, 128}));
    CHECK(maxAbs(out.embedding.norm(2, 1), torch::ones({3})) <= 1e-5);
    CHECK(vit->forward(x, false).attentions.empty());
    CHECK(maxAbs(vit->embed(x), out.embedding) <= 1e-5);
}

TEST_CASE("presets exist and validate", "[model]") {
    for (const auto& n : VitConfig::presetNames())
        CHECK_NOTHROW(VitConfig::preset(n).validate());
    auto s = VitConfig::preset("vit-small-16");
    CHECK(s.dim == 384);
    CHECK(s.heads == 6);
    CHECK(VitConfig::fromJson(s.toJson()).dim == 384);
    CHECK_THROWS_AS(VitConfig::preset("vit-huge"), Error);
    auto bad = s;
    bad.heads = 5;
    CHECK_THROWS_AS(bad.validate(), Error);
}

TEST_CASE("save then load round-trips weights, config, metadata and extra tensors", "[model]") {
    TempDir tmp;
    torch::manual_seed(5);
    VitConfig c = VitConfig::preset("vit-micro");
    c.depth = 1;
    c.embedDim = 16;
    Vit vit(c);
    vit->eval();
    auto extra = torch::arange(6, torch::kLong);
    const auto file = tmp.path / "ckpt.safetensors";
    saveCheckpoint(file, *vit, {{"epoch", 3}, {"note", "hello"}}, {{"optimizer.step", extra}});
    auto loaded = loadModel(file.string());
    CHECK(loaded.layout == "vitrine");
    CHECK(loaded.weightsLoaded);
    CHECK(loaded.model->config().embedDim == 16);
    CHECK(loaded.model->config().depth == 1);
    CHECK(loaded.metadata.at("epoch") == 3);
    CHECK(loaded.metadata.at("note") == "hello");
    REQUIRE(loaded.extraTensors.count("optimizer.step"));
    CHECK(torch::equal(loaded.extraTensors.at("optimizer.step"), extra));
    torch::InferenceMode guard;
    auto x = torch::randn({2, 3, c.imageSize, c.imageSize});
    CHECK(maxAbs(loaded.model->embed(x), vit->embed(x)) == 0.0);
}

TEST_CASE("positional embeddings are interpolated when the image size changes", "[model]") {
    // A constant grid stays constant; the class-token row is untouched.
    auto pe = torch::cat({torch::full({1, 1, 4}, 7.0), torch::full({1, 16, 4}, 0.5)}, 1);
    auto up = interpolatePosEmbed(pe, 6);
    CHECK(up.sizes() == torch::IntArrayRef({1, 37, 4}));
    CHECK(maxAbs(up.slice(1, 1), torch::full({1, 36, 4}, 0.5)) <= 1e-5);
    CHECK(up[0][0][0].item<float>() == 7.0f);
    CHECK(maxAbs(interpolatePosEmbed(pe, 4), pe) == 0.0);
    // A linear ramp is reproduced by bicubic interpolation in the interior (to within its overshoot).
    LoadOptions o;
    o.heads = 2;
    o.imageSize = 48;
    auto loaded = loadModel(fixture("timm_vit.safetensors").string(), o);
    CHECK(loaded.model->config().imageSize == 48);
    CHECK(loaded.model->posEmbed.size(1) == 37);
    CHECK_FALSE(loaded.warnings.empty());
    torch::InferenceMode guard;
    CHECK(loaded.model->embed(torch::randn({1, 3, 48, 48})).size(1) == 32);
}

TEST_CASE("a torch.save() archive cut short is refused as such, whatever its extension", "[model]") {
    TempDir tmp;
    for (const char* name : {"model.pt", "model.pth", "renamed.safetensors"}) {
        const auto file = tmp.path / name;
        std::ofstream(file) << "PK\x03\x04 rest of a torch.save() zip";
        try {
            loadModel(file.string());
            FAIL("expected an error");
        } catch (const Error& e) {
            CHECK_THAT(e.what(), Catch::Contains("not a valid PyTorch checkpoint archive"));
            CHECK_THAT(e.what(), Catch::Contains(name));
        }
    }
}

TEST_CASE("an unknown preset or missing file names the presets", "[model]") {
    CHECK_THROWS_WITH(loadModel("no-such-model"), Catch::Contains("vit-small-16"));
    auto p = loadModel("vit-micro");
    CHECK(p.layout == "preset");
    CHECK_FALSE(p.weightsLoaded);
    CHECK_FALSE(p.warnings.empty());
}

TEST_CASE("missing, unexpected and mis-shaped tensors are all listed", "[model]") {
    TempDir tmp;
    auto st = readSafetensors(fixture("timm_vit.safetensors"));
    st.tensors.erase("blocks.1.mlp.fc2.bias");
    st.tensors["blocks.0.attn.extra"] = torch::zeros({2});
    st.tensors["norm.weight"] = torch::ones({31});
    const auto file = tmp.path / "broken.safetensors";
    writeSafetensors(file, st.tensors);
    LoadOptions o;
    o.heads = 2;
    try {
        loadModel(file.string(), o);
        FAIL("expected an error");
    } catch (const Error& e) {
        const std::string msg = e.what();
        CHECK_THAT(msg, Catch::Contains("broken.safetensors"));
        CHECK_THAT(msg, Catch::Contains("missing tensors: blocks.1.mlp.fc2.bias"));
        CHECK_THAT(msg, Catch::Contains("unexpected tensors: blocks.0.attn.extra"));
        CHECK_THAT(msg, Catch::Contains("norm.weight (file [31], model [32])"));
    }
}

TEST_CASE("the default model comes from VITRINE_DEFAULT_MODEL, else vit-micro with a warning", "[model]") {
    TempDir tmp;
    torch::manual_seed(9);
    VitConfig c = VitConfig::preset("vit-micro");
    c.depth = 1;
    Vit vit(c);
    const auto file = tmp.path / "default.safetensors";
    saveCheckpoint(file, *vit, {{"trained", true}});
    ::setenv("VITRINE_DEFAULT_MODEL", file.c_str(), 1);
    CHECK(defaultModelPath() == fs::weakly_canonical(file));
    auto d = loadModel("default");
    CHECK(d.weightsLoaded);
    CHECK(d.model->config().depth == 1);
    ::unsetenv("VITRINE_DEFAULT_MODEL");
    if (defaultModelPath().empty()) {
        auto f = loadModel("");
        CHECK(f.model->config().name == "vit-micro");
        CHECK_FALSE(f.weightsLoaded);
        CHECK_THAT(f.warnings.front(), Catch::Contains("no default model"));
    }
}

TEST_CASE("presets with random weights are reproducible and leave the global seed alone", "[model]") {
    torch::manual_seed(123);
    auto expected = torch::rand({3});
    torch::manual_seed(123);
    auto a = loadModel("vit-micro");
    auto after = torch::rand({3});
    CHECK(torch::equal(after, expected));
    auto b = loadModel("vit-micro");
    CHECK(torch::equal(a.model->posEmbed, b.model->posEmbed));
    LoadOptions o;
    o.seed = 1;
    CHECK_FALSE(torch::equal(loadModel("vit-micro", o).model->posEmbed, a.model->posEmbed));
}

TEST_CASE("mean pooling feeds the head the mean patch token, and survives a checkpoint", "[model]") {
    torch::manual_seed(4);
    VitConfig c = VitConfig::preset("vit-micro");
    c.depth = 2;
    c.pool = "mean";
    Vit vit(c);
    vit->eval();
    torch::InferenceMode guard;
    auto x = torch::randn({2, 3, c.imageSize, c.imageSize});
    auto out = vit->forward(x, false);
    auto expected = torch::nn::functional::normalize(vit->head->forward(out.patches.mean(1)),
                                                     torch::nn::functional::NormalizeFuncOptions().dim(1));
    CHECK(maxAbs(out.embedding, expected) <= 1e-5);
    // Not the class token's embedding.
    auto fromCls = torch::nn::functional::normalize(vit->head->forward(out.cls),
                                                    torch::nn::functional::NormalizeFuncOptions().dim(1));
    CHECK(maxAbs(out.embedding, fromCls) > 1e-3);
    CHECK(VitConfig::fromJson(c.toJson()).pool == "mean");
    auto bad = c.toJson();
    bad["pool"] = "max";
    CHECK_THROWS_AS(VitConfig::fromJson(bad), Error);
    bad.erase("pool"); // files written before the field existed pool the class token
    CHECK(VitConfig::fromJson(bad).pool == "cls");
}
