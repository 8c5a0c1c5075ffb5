// core/model weight import under hostile or damaged files (issue 8): real pickle files,
// NaN weights, a config that lies about the tensors, another network's weights, and
// safetensors offsets listed out of order (valid: the reader must map them right).
#include <catch2/catch.hpp>

#include "tests/support/temp_dir.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/torch.h>

#include "core/common/error.h"
#include "core/io/atomic_file.h"
#include "core/model/checkpoint.h"
#include "core/model/safetensors.h"
#include "tests/train_test_util.h"

using namespace vitrine::core;
using namespace vitrine::core::model;
namespace fs = std::filesystem;

namespace {

using vitrine::testutil::TempDir; // tests/support/temp_dir.h

fs::path fixture(const std::string& name) { return fs::path(VITRINE_FIXTURES) / "model" / name; }

std::string loadError(const fs::path& file, const LoadOptions& options = {}) {
    try {
        loadModel(file.string(), options);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST_CASE("LibTorch archives without a state dict and raw pickles are refused, whatever their extension",
          "[model][reliability]") {
    TempDir tmp;
    // torch.save()'s zip archive, as LibTorch writes it.
    torch::save(torch::randn({4, 3, 2, 2}), (tmp.path / "zip.pt").string());
    // A bare pickle stream (protocol 2, what the legacy torch.save format starts with).
    const std::vector<char> raw = torch::jit::pickle(c10::IValue(std::vector<std::int64_t>{1, 2, 3}));
    REQUIRE(static_cast<unsigned char>(raw.at(0)) == 0x80);
    io::writeFileAtomically(tmp.path / "raw.pth", std::string_view(raw.data(), raw.size()));
    fs::copy_file(tmp.path / "zip.pt", tmp.path / "zip-renamed.safetensors");
    fs::copy_file(tmp.path / "raw.pth", tmp.path / "raw-renamed.safetensors");
    for (const char* name : {"zip.pt", "raw.pth", "zip-renamed.safetensors", "raw-renamed.safetensors"}) {
        INFO(name);
        const auto msg = loadError(tmp.path / name);
        INFO(msg);
        // torch::save() of a bare tensor is a TorchScript archive whose one tensor is no ViT's;
        // a raw pickle stream is the legacy format.
        CHECK_THAT(msg, Catch::Contains(name) &&
                            (Catch::Contains("unrecognised tensor layout") || Catch::Contains("legacy format")));
    }
}

TEST_CASE("NaN or infinite weights are refused with the tensors named", "[model][reliability]") {
    TempDir tmp;
    SECTION("a foreign (timm) file") {
        auto st = readSafetensors(fixture("timm_vit.safetensors"));
        st.tensors["blocks.0.attn.qkv.weight"].view(-1)[5] = std::nan("");
        st.tensors["norm.bias"].view(-1)[0] = INFINITY;
        writeSafetensors(tmp.path / "nan.safetensors", st.tensors);
        LoadOptions o;
        o.heads = 2; // the fixture's width (32) is not a multiple of 64
        const auto msg = loadError(tmp.path / "nan.safetensors", o);
        CHECK_THAT(msg, Catch::Contains("nan.safetensors") && Catch::Contains("non-finite"));
        CHECK_THAT(msg, Catch::Contains("blocks.0.attn.qkv.weight (1 of") && Catch::Contains("norm.bias (1 of"));
    }
    SECTION("a Vitrine checkpoint saved from a diverged run") {
        auto file = vitrine::testutil::writeTinyModel(tmp.path / "diverged.safetensors");
        auto st = readSafetensors(file);
        st.tensors["head.weight"].fill_(std::nan(""));
        writeSafetensors(file, st.tensors, st.metadata);
        CHECK_THAT(loadError(file),
                   Catch::Contains("head.weight (512 of 512)") && Catch::Contains("earlier checkpoint"));
    }
}

TEST_CASE("a Vitrine config that does not match the tensors is refused before building the model",
          "[model][reliability]") {
    TempDir tmp;
    auto file = vitrine::testutil::writeTinyModel(tmp.path / "lying.safetensors");
    auto st = readSafetensors(file);
    auto cfg = nlohmann::json::parse(st.metadata.at("config"));
    SECTION("an absurd depth and width (would need terabytes)") {
        cfg["dim"] = 16384;
        cfg["heads"] = 64;
        cfg["depth"] = 256;
        cfg["mlp_ratio"] = 64.0;
    }
    SECTION("more blocks than the file has") { cfg["depth"] = 3; }
    SECTION("another patch size") { cfg["patch_size"] = 4; }
    st.metadata["config"] = cfg.dump();
    writeSafetensors(file, st.tensors, st.metadata);
    CHECK_THAT(loadError(file), Catch::Contains("lying.safetensors") && Catch::Contains("does not match its tensors"));
}

TEST_CASE("another network's weights are refused as an unrecognised layout", "[model][reliability]") {
    TempDir tmp;
    // A ResNet-style state dict: valid safetensors, wrong model.
    writeSafetensors(tmp.path / "resnet.safetensors", {{"conv1.weight", torch::randn({8, 3, 7, 7})},
                                                       {"bn1.weight", torch::ones({8})},
                                                       {"fc.weight", torch::randn({10, 8})}});
    CHECK_THAT(loadError(tmp.path / "resnet.safetensors"),
               Catch::Contains("unrecognised tensor layout") && Catch::Contains("conv1.weight"));
}

TEST_CASE("safetensors offsets listed out of name order map each tensor to its own bytes", "[model][reliability]") {
    TempDir tmp;
    // "a" owns the second 8 bytes, "b" the first: valid (contiguous, no gap), unusual order.
    const std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},)"
                               R"("b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i)
        bytes[std::size_t(i)] = char((header.size() >> (8 * i)) & 0xff);
    bytes += header;
    const float data[4] = {1.f, 2.f, 3.f, 4.f};
    bytes.append(reinterpret_cast<const char*>(data), sizeof data);
    io::writeFileAtomically(tmp.path / "order.safetensors", bytes);
    auto st = readSafetensors(tmp.path / "order.safetensors");
    CHECK(torch::equal(st.tensors.at("b"), torch::tensor({1.f, 2.f})));
    CHECK(torch::equal(st.tensors.at("a"), torch::tensor({3.f, 4.f})));
}
