#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>

#include <torch/torch.h>

#include "core/common/error.h"
#include "core/common/files.h"
#include "core/io/safetensors_format.h"
#include "core/model/safetensors.h"

using namespace vitrine::core;
using namespace vitrine::core::model;
namespace fs = std::filesystem;

namespace {

fs::path tempFile(const std::string& name) {
    auto dir = fs::temp_directory_path() / ("vitrine_st_test_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    return dir / name;
}

// 8-byte LE length + header text + data, with an optional lie about the length.
fs::path craft(const std::string& name, const std::string& header, std::size_t dataBytes,
               std::int64_t claimedLength = -1) {
    auto p = tempFile(name);
    std::ofstream out(p, std::ios::binary);
    std::uint64_t n = claimedLength >= 0 ? static_cast<std::uint64_t>(claimedLength) : header.size();
    for (int i = 0; i < 8; ++i)
        out.put(static_cast<char>((n >> (8 * i)) & 0xff));
    out << header << std::string(dataBytes, '\0');
    return p;
}

void expectError(const fs::path& file, const std::string& phrase) {
    INFO(file.filename().string() << " should fail with: " << phrase);
    try {
        readSafetensors(file);
        FAIL("no error");
    } catch (const Error& e) {
        CHECK_THAT(e.what(), Catch::Contains(phrase));
        CHECK_THAT(e.what(), Catch::Contains(file.filename().string()));
    }
}

} // namespace

TEST_CASE("safetensors round-trips tensors of every dtype and the metadata", "[model][safetensors]") {
    torch::manual_seed(1);
    std::map<std::string, at::Tensor> t = {
        {"a.f32", torch::randn({3, 4})},
        {"b.f16", torch::randn({5}).to(torch::kHalf)},
        {"c.bf16", torch::randn({2, 2}).to(torch::kBFloat16)},
        {"d.i64", torch::arange(7, torch::kLong)},
        {"e.i32", torch::arange(3, torch::kInt)},
        {"f.scalar", torch::tensor(2.5f)},
        {"g.empty", torch::zeros({0, 3})},
        {"h.noncontig", torch::randn({4, 3}).t()},
    };
    auto file = tempFile("roundtrip.safetensors");
    writeSafetensors(file, t, {{"config", "{\"x\": 1}"}, {"who", "test"}});
    auto r = readSafetensors(file);
    REQUIRE(r.tensors.size() == t.size());
    for (const auto& [name, v] : t) {
        INFO(name);
        CHECK(r.tensors.at(name).scalar_type() == v.scalar_type());
        CHECK(torch::equal(r.tensors.at(name), v.contiguous()));
    }
    CHECK(r.metadata.at("who") == "test");
    CHECK(r.metadata.at("config") == "{\"x\": 1}");
    auto h = readSafetensorsHeader(file);
    CHECK(h.entries.size() == t.size());
    CHECK(h.dataStart % 8 == 0);
}

TEST_CASE("crafted safetensors files are rejected with the problem named", "[model][safetensors]") {
    const std::string ok = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
    CHECK_NOTHROW(readSafetensors(craft("ok.safetensors", ok, 8)));
    {
        auto p = tempFile("tiny.safetensors");
        std::ofstream(p, std::ios::binary) << "abc";
        expectError(p, "shorter than the 8-byte header");
    }
    expectError(craft("hugeheader.safetensors", ok, 8, 200ll << 20), "exceeds the limit");
    expectError(craft("pastend.safetensors", ok, 8, 5000), "runs past the end of the file");
    expectError(craft("badjson.safetensors", R"({"w": {"dtype": )", 0), "not valid JSON");
    expectError(craft("notobject.safetensors", "[1,2,3]", 0), "not a JSON object");
    expectError(craft("dtype.safetensors", R"({"w":{"dtype":"F8","shape":[2],"data_offsets":[0,2]}})", 2),
                "unsupported dtype 'F8'");
    expectError(
        craft(
            "gap.safetensors",
            R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
            12),
        "gap of 4 bytes");
    expectError(
        craft(
            "overlap.safetensors",
            R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
            8),
        "overlaps");
    expectError(craft("bounds.safetensors", R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8),
                "run past the end of the data");
    expectError(craft("mismatch.safetensors", R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
                "does not match shape x dtype");
    expectError(
        craft("overflow.safetensors",
              R"({"w":{"dtype":"F32","shape":[1099511627776,1099511627776,1099511627776],"data_offsets":[0,8]}})", 8),
        "overflow");
    expectError(craft("negative.safetensors", R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
                "negative");
    expectError(
        craft(
            "dup.safetensors",
            R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
            8),
        "listed twice");
    expectError(craft("trailing.safetensors", ok, 12), "bytes of data after the last tensor");
    expectError(craft("offsets.safetensors", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8),
                "end before they begin");
    expectError(craft("fields.safetensors", R"({"w":{"dtype":"F32","shape":[2]}})", 8), "data_offsets");
    expectError(craft("meta.safetensors", R"({"__metadata__":{"a":1}})", 0), "not a string");
    CHECK_THROWS_WITH(readSafetensors(tempFile("missing.safetensors")), Catch::Contains("no such file"));
}

TEST_CASE("one safetensors codec: the tensor writer and the matrix writer give the same bytes",
          "[model][safetensors][io]") {
    Matrix m(3, 2);
    for (std::size_t i = 0; i < m.data.size(); ++i)
        m.data[i] = 0.25f * static_cast<float>(i) - 1.0f;
    Matrix coords(3, 1, 7.0f);
    const std::map<std::string, std::string> meta = {{"rows", "{}"}, {"by", "test"}};
    // The matrix writer keeps its order for the data; the tensor writer sorts by name: give
    // both the sorted order so the files must agree byte for byte.
    const std::string fromMatrices = io::formatSafetensors({{"coords", &coords}, {"embeddings", &m}}, meta);
    const auto file = tempFile("same_bytes.safetensors");
    writeSafetensors(file,
                     {{"embeddings", torch::from_blob(m.data.data(), {3, 2}, torch::kFloat32)},
                      {"coords", torch::from_blob(coords.data.data(), {3, 1}, torch::kFloat32)}},
                     meta);
    CHECK(readFile(file) == fromMatrices);

    std::map<std::string, std::string> readMeta;
    const auto back = io::parseSafetensorsMatrices(fromMatrices, "same_bytes.safetensors", &readMeta);
    CHECK(readMeta == meta);
    REQUIRE(back.count("embeddings") == 1);
    CHECK(back.at("embeddings").data == m.data);
    CHECK(back.at("embeddings").rows == 3);
    CHECK(back.at("coords").cols == 1);
}

TEST_CASE("the matrix reader skips tensors of other dtypes, the tensor reader names them", "[model][safetensors][io]") {
    const std::string header =
        R"({"e":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"ids":{"dtype":"U32","shape":[1],"data_offsets":[8,12]}})";
    const auto file = craft("u32.safetensors", header, 12);
    const auto mats = io::readSafetensorsMatrices(file);
    CHECK(mats.size() == 1);
    CHECK(mats.count("e") == 1);
    expectError(file, "unsupported dtype 'U32'");
    // Both readers share the header validation: a gap is refused by either.
    const auto gap = craft(
        "gap_matrices.safetensors",
        R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
        12);
    CHECK_THROWS_WITH(io::readSafetensorsMatrices(gap),
                      Catch::Contains("gap") && Catch::Contains("gap_matrices.safetensors"));
}
