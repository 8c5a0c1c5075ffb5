// Replays every fuzz target's seed corpus and every input a fuzzer once crashed on
// (tests/fuzz/corpus/<target>/, tests/fuzz/regressions/<target>/) through the same entry
// functions, with the normal build, so CI keeps them fixed without clang or libFuzzer.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/io/embedding_set.h"
#include "core/io/safetensors_format.h"
#include "core/model/checkpoint.h"
#include "tests/fuzz/fuzz_entries.h"
#include "tests/train_test_util.h"

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> inputsOf(const std::string& target, const char* kind) {
    const fs::path dir = fs::path(VITRINE_FIXTURES).parent_path() / "fuzz" / kind / target;
    std::vector<fs::path> files;
    if (fs::is_directory(dir))
        for (const auto& e : fs::directory_iterator(dir))
            if (e.is_regular_file())
                files.push_back(e.path());
    std::sort(files.begin(), files.end());
    return files;
}

void replay(const std::string& target, void (*entry)(std::string_view)) {
    const auto corpus = inputsOf(target, "corpus");
    const auto regressions = inputsOf(target, "regressions");
    CHECK(corpus.size() >= 5); // the seed corpus is checked in
    for (const auto* list : {&corpus, &regressions}) {
        for (const auto& file : *list) {
            std::ifstream in(file, std::ios::binary);
            const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            INFO(file.string());
            CHECK_NOTHROW(entry(bytes));
        }
    }
}

} // namespace

TEST_CASE("fuzz corpus and regressions replay: safetensors header", "[fuzz-replay]") {
    replay("fuzz_safetensors", vitrine::fuzz::fuzz_safetensors);
}

TEST_CASE("fuzz corpus and regressions replay: safetensors matrices", "[fuzz-replay]") {
    replay("fuzz_safetensors_matrices", vitrine::fuzz::fuzz_safetensors_matrices);
}

TEST_CASE("fuzz corpus and regressions replay: image probe and decode", "[fuzz-replay]") {
    replay("fuzz_image", vitrine::fuzz::fuzz_image);
}

TEST_CASE("fuzz corpus and regressions replay: npy", "[fuzz-replay]") { replay("fuzz_npy", vitrine::fuzz::fuzz_npy); }

TEST_CASE("fuzz corpus and regressions replay: rows TSV and CSV", "[fuzz-replay]") {
    replay("fuzz_row_table", vitrine::fuzz::fuzz_row_table);
}

TEST_CASE("fuzz corpus and regressions replay: checkpoint metadata", "[fuzz-replay]") {
    replay("fuzz_checkpoint_metadata", vitrine::fuzz::fuzz_checkpoint_metadata);
}

TEST_CASE("fuzz corpus and regressions replay: PyTorch checkpoints", "[fuzz-replay]") {
    replay("fuzz_torch_checkpoint", vitrine::fuzz::fuzz_torch_checkpoint);
}

// Findings of the fuzzing pass that live outside the fuzz targets' reach.

TEST_CASE("a tensor name too long for the layout regexes is refused by the header parser", "[fuzz-replay][model]") {
    vitrine::testutil::TempDir dir("fuzz-long-name");
    const std::string name(1 << 20, 'a');
    const std::string header = "{\"" + name + "\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}";
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i)
        bytes[static_cast<std::size_t>(i)] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
    bytes += header + "x";
    const auto file = dir.path / "long_name.safetensors";
    std::ofstream(file, std::ios::binary) << bytes;
    CHECK_THROWS_WITH(vitrine::core::model::loadModel(file.string()), Catch::Contains("bytes long"));
}

TEST_CASE("training state and config metadata of the wrong type are core::Errors", "[fuzz-replay][model]") {
    using vitrine::core::Error;
    using vitrine::core::model::parseTrainingState;
    auto md = [](const char* training) {
        return vitrine::core::model::parseCheckpointMetadata({{"training", training}});
    };
    CHECK(parseTrainingState(md(R"({"step": 7, "seed": 3, "optimizer_steps": {"w": 7}})"), "x").step == 7);
    CHECK_THROWS_AS(parseTrainingState(md(R"({"step": "seven"})"), "x"), Error);
    CHECK_THROWS_AS(parseTrainingState(md(R"({"step": -1})"), "x"), Error);
    CHECK_THROWS_AS(parseTrainingState(md(R"({"seed": 1.5})"), "x"), Error);
    CHECK_THROWS_AS(parseTrainingState(md(R"({"optimizer_steps": {"w": "x"}})"), "x"), Error);
    CHECK_THROWS_AS(parseTrainingState(md("[1, 2]"), "x"), Error);
    CHECK_THROWS_AS(parseTrainingState(nlohmann::json::object(), "x"), Error);

    auto config = vitrine::core::model::VitConfig::preset("vit-micro").toJson();
    config["image_size"] = (std::int64_t(1) << 32) + config["image_size"].get<std::int64_t>();
    CHECK_THROWS_AS(vitrine::core::model::VitConfig::fromJson(config), Error);
}

TEST_CASE("embeddings rows metadata with ragged rows is a core::Error", "[fuzz-replay][io]") {
    vitrine::testutil::TempDir dir("fuzz-ragged-rows");
    vitrine::core::Matrix m(2, 3, 1.0f);
    const std::string rows = R"({"columns": ["path", "label"], "rows": [["a.jpg", "cat"], ["b.jpg"]]})";
    const auto file = dir.path / "e.safetensors";
    std::ofstream(file, std::ios::binary)
        << vitrine::core::io::formatSafetensors({{"embeddings", &m}}, {{"rows", rows}});
    CHECK_THROWS_WITH(vitrine::core::io::loadEmbeddingSet(file), Catch::Contains("row 1 has 1 fields"));
}
