// PyTorch checkpoints read without running Python (core/model/torch_checkpoint.h): state
// dicts as torch.save() writes them (bare, or inside 'model'/'teacher'/'state_dict', with
// 'module.'/'backbone.' prefixes, float16, views and Parameters) load exactly like the same
// weights in safetensors; everything that is not a state dict is refused with its reason,
// naming the global for pickles that would run code. Fixtures:
// tests/fixtures/torch/make_torch_fixtures.py (python3-torch 1.13).
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/files.h"
#include "core/model/checkpoint.h"
#include "core/model/torch_checkpoint.h"

namespace fs = std::filesystem;
using namespace vitrine::core;
using namespace vitrine::core::model;

namespace {

fs::path fixture(const std::string& name) { return fs::path(VITRINE_FIXTURES) / "torch" / name; }

/// timm files do not store the head count; the fixtures' 32-wide ViT has two.
LoadedModel load(const std::string& name) {
    LoadOptions o;
    o.heads = 2;
    return loadModel(fixture(name).string(), o);
}

torch::Tensor embed(LoadedModel& m) {
    torch::manual_seed(3);
    const auto x = torch::randn({2, 3, 32, 32});
    torch::NoGradGuard ng;
    return m.model->forward(x).embedding;
}

std::string warningsOf(const LoadedModel& m) {
    std::string notes;
    for (const auto& w : m.warnings)
        notes += w + "\n";
    return notes;
}

void requireSameWeights(LoadedModel& a, LoadedModel& b, double tolerance) {
    auto pa = a.model->named_parameters();
    auto pb = b.model->named_parameters();
    REQUIRE(pa.size() == pb.size());
    for (const auto& p : pa) {
        INFO(p.key());
        REQUIRE(pb.contains(p.key()));
        CHECK(torch::allclose(p.value(), pb[p.key()], 0, tolerance));
    }
}

} // namespace

TEST_CASE("a torch.save() state dict loads exactly like the same weights in safetensors", "[model][torch-checkpoint]") {
    LoadedModel fromPth = load("vit-tiny-timm.pth");
    LoadedModel fromSt = load("vit-tiny-timm.safetensors");
    CHECK(fromPth.layout == "timm");
    CHECK(fromPth.weightsLoaded);
    CHECK(fromPth.model->config().dim == 32);
    CHECK(fromPth.model->config().depth == 2);
    CHECK(fromPth.model->config().patchSize == 8);
    requireSameWeights(fromPth, fromSt, 0);
    CHECK(torch::equal(embed(fromPth), embed(fromSt)));
}

TEST_CASE("state dicts inside wrappers and behind prefixes are found", "[model][torch-checkpoint]") {
    LoadedModel reference = load("vit-tiny-timm.safetensors");
    SECTION("{'model': state_dict, 'epoch': 3}") {
        LoadedModel m = load("vit-tiny-model-wrapper.pth");
        requireSameWeights(m, reference, 0);
    }
    SECTION("DINO: the teacher's 'backbone.' weights, not the student's, its projection head set aside") {
        LoadedModel m = load("vit-tiny-dino-teacher.pth");
        requireSameWeights(m, reference, 0);
        const std::string notes = warningsOf(m);
        INFO(notes);
        CHECK(notes.find("'teacher'") != std::string::npos);
        CHECK(notes.find("head.mlp.0.weight") != std::string::npos); // reported as ignored
    }
    SECTION("MAE: the encoder beside its decoder, which is set aside") {
        LoadedModel m = load("vit-tiny-mae-pretrain.pth");
        requireSameWeights(m, reference, 0);
        const std::string notes = warningsOf(m);
        INFO(notes);
        CHECK(notes.find("decoder_") != std::string::npos);
        CHECK(m.model->config().pool == "mean"); // MAE's features: the mean patch token
    }
    SECTION("{'state_dict': {'module.' + name: float16}}") {
        LoadedModel m = load("vit-tiny-module-half.pth");
        requireSameWeights(m, reference, 1e-3);
    }
}

TEST_CASE("views, Parameters, bfloat16 and int64 tensors keep their strides, offsets and values",
          "[model][torch-checkpoint]") {
    const std::string bytes = readFile(fixture("views.pth"));
    const TorchCheckpoint ck = parseTorchCheckpoint(bytes, "views.pth");
    std::ifstream in(fixture("views.json"));
    const auto expected = nlohmann::json::parse(in);
    REQUIRE(ck.tensors.size() == expected.size());
    for (const auto& [name, want] : expected.items()) {
        INFO(name);
        REQUIRE(ck.tensors.count(name));
        const PickledTensor& t = ck.tensors.at(name);
        CHECK(t.shape == want["shape"].get<std::vector<std::int64_t>>());
        // Walk the tensor in row-major order through its strides, decoding each element.
        std::vector<double> values;
        const std::size_t n = want["values"].size();
        std::vector<std::int64_t> index(t.shape.size(), 0);
        for (std::size_t k = 0; k < n; ++k) {
            std::int64_t at = t.offset;
            for (std::size_t d = 0; d < index.size(); ++d)
                at += index[d] * t.stride[d];
            const char* e = t.storage.data() + at * std::int64_t(torchDtypeSize(t.dtype));
            if (t.dtype == "F32") {
                float f;
                std::memcpy(&f, e, 4);
                values.push_back(f);
            } else if (t.dtype == "BF16") {
                std::uint32_t bits =
                    std::uint32_t(static_cast<unsigned char>(e[0]) | (static_cast<unsigned char>(e[1]) << 8)) << 16;
                float f;
                std::memcpy(&f, &bits, 4);
                values.push_back(f);
            } else if (t.dtype == "I64") {
                std::int64_t i;
                std::memcpy(&i, e, 8);
                values.push_back(double(i));
            }
            for (std::size_t d = index.size(); d-- > 0;) {
                if (++index[d] < t.shape[d])
                    break;
                index[d] = 0;
            }
        }
        CHECK(values == want["values"].get<std::vector<double>>());
    }
    CHECK(ck.tensors.at("transposed").stride == std::vector<std::int64_t>{1, 6});
    CHECK(ck.tensors.at("slice").offset == 5);
    CHECK(ck.tensors.at("bf16").dtype == "BF16");
}

TEST_CASE("pickles that would run code, and files that are not state dicts, are refused with the reason",
          "[model][torch-checkpoint]") {
    fs::remove("/tmp/vitrine-pwned");
    const std::vector<std::pair<std::string, std::string>> cases{
        {"evil-os-system.pth", "'posix.system'"},
        {"evil-eval.pth", "__builtin__.eval'"}, // protocol 2 spells builtins the Python 2 way
        {"with-argparse-namespace.pth", "'argparse.Namespace'"},
        {"evil-raw-pickle.pkl", "legacy format"},
        {"legacy-format.pth", "legacy format"},
        {"bad-memo-index.pth", "memo index 4294967295 was never stored"},
        {"recursive-list.pth", "no state dict found"},
        {"tensor-past-storage.pth", "reaches past the end of its storage"},
    };
    for (const auto& [file, reason] : cases) {
        INFO(file);
        try {
            (void)load(file);
            FAIL("loaded a file that must be refused");
        } catch (const Error& e) {
            INFO(e.what());
            CHECK(std::string(e.what()).find(file) != std::string::npos);
            CHECK(std::string(e.what()).find(reason) != std::string::npos);
        }
    }
    CHECK_FALSE(fs::exists("/tmp/vitrine-pwned")); // nothing ran
}

TEST_CASE("a model folder (model.safetensors or pytorch_model.bin inside) loads through its file",
          "[model][torch-checkpoint]") {
    const fs::path dir = fs::temp_directory_path() / ("vitrine-hf-folder-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir / "st");
    fs::create_directories(dir / "bin");
    fs::create_directories(dir / "empty");
    fs::copy_file(fixture("vit-tiny-timm.safetensors"), dir / "st" / "model.safetensors");
    fs::copy_file(fixture("vit-tiny-timm.pth"), dir / "bin" / "pytorch_model.bin");
    LoadOptions o;
    o.heads = 2;
    LoadedModel a = loadModel((dir / "st").string(), o);
    LoadedModel b = loadModel((dir / "bin").string(), o);
    requireSameWeights(a, b, 0);
    CHECK_THROWS_WITH(loadModel((dir / "empty").string(), o), Catch::Contains("model.safetensors"));
    fs::remove_all(dir);
}
