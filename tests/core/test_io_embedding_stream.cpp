// core/io: embeddings streamed to disk row by row read back exactly, and an unfinished
// stream never replaces the earlier files.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <sstream>

#include "core/common/error.h"
#include "core/common/files.h"
#include "core/io/atomic_file.h"
#include "core/io/embedding_set.h"
#include "core/io/embedding_stream.h"
#include "core/io/npy.h"
#include "core/io/safetensors_format.h"

namespace fs = std::filesystem;
using namespace vitrine::core;
using namespace vitrine::core::io;

namespace {

fs::path freshDir(const std::string& name) {
    auto dir = fs::temp_directory_path() / ("vitrine-stream-tests-" + std::to_string(::getpid())) / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

int entries(const fs::path& dir) {
    return static_cast<int>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

// rows x dim values that differ in every position, including awkward floats.
std::vector<float> sampleRows(int rows, int dim) {
    std::vector<float> v(static_cast<std::size_t>(rows) * dim);
    for (std::size_t i = 0; i < v.size(); ++i)
        v[i] = static_cast<float>(i) * 0.1f - 3.0f + (i % 7 == 0 ? 1e-7f : 0.0f);
    return v;
}

std::vector<RowInfo> sampleInfo(int rows) {
    std::vector<RowInfo> info;
    for (int r = 0; r < rows; ++r)
        info.push_back({"cat/a, \"b\"\t" + std::to_string(r) + ".jpg", r % 2 ? "dog" : "cat"});
    return info;
}

void stream(const fs::path& out, const std::vector<float>& rows, const std::vector<RowInfo>& info, int dim,
            std::uint64_t maxRows) {
    EmbeddingStreamWriter w(out, dim, maxRows, {{"model", "test"}});
    for (std::size_t r = 0; r < info.size(); ++r)
        w.append(rows.data() + r * dim, info[r]);
    CHECK(w.rows() == info.size());
    w.commit();
}

} // namespace

TEST_CASE("streamed .npy and .safetensors read back exactly, whatever row count was announced", "[io][stream]") {
    const int dim = 5, n = 7;
    const auto rows = sampleRows(n, dim);
    const auto info = sampleInfo(n);
    const auto dir = freshDir("formats");
    for (const char* ext : {".npy", ".safetensors"}) {
        // Announcing many more rows than arrive (the skipped images) only pads the header.
        for (std::uint64_t announced : {std::uint64_t(n), std::uint64_t(1000), std::uint64_t(1) << 40}) {
            INFO(ext << " announced " << announced);
            const auto sub = dir / (ext + 1);
            fs::create_directories(sub);
            const auto out = sub / (std::string("e") + ext);
            stream(out, rows, info, dim, announced);
            const auto set = loadEmbeddingSet(out);
            REQUIRE(set.embeddings.rows == n);
            REQUIRE(set.embeddings.cols == dim);
            CHECK(set.embeddings.data == rows);
            REQUIRE(set.rows.size() == n);
            for (int r = 0; r < n; ++r) {
                CHECK(set.rows.value(r, "path") == info[r].path);
                CHECK(set.rows.value(r, "label") == info[r].label);
            }
            CHECK(entries(sub) == 2); // the file and its rows.tsv, no temporaries
        }
    }
    // The streamed .npy is byte for byte what the in-memory writer produces for the same rows.
    stream(dir / "s.npy", rows, info, dim, n);
    Matrix m;
    m.rows = n;
    m.cols = dim;
    m.data = rows;
    writeNpyMatrix(dir / "m.npy", m);
    CHECK(readFile(dir / "s.npy") == readFile(dir / "m.npy"));
    std::map<std::string, std::string> meta;
    stream(dir / "s.safetensors", rows, info, dim, 123456);
    auto mats = readSafetensorsMatrices(dir / "s.safetensors", &meta);
    CHECK(meta.at("model") == "test");
    CHECK(mats.at("embeddings").data == rows);
}

TEST_CASE("streamed .csv has one line per row with round-trip floats", "[io][stream]") {
    const int dim = 3, n = 4;
    const auto rows = sampleRows(n, dim);
    const auto dir = freshDir("csv");
    stream(dir / "e.csv", rows, sampleInfo(n), dim, 100);
    std::istringstream text(readFile(dir / "e.csv"));
    std::string line;
    std::size_t i = 0;
    int lines = 0;
    while (std::getline(text, line)) {
        ++lines;
        std::istringstream fields(line);
        std::string f;
        while (std::getline(fields, f, ','))
            CHECK(std::stof(f) == rows.at(i++));
    }
    CHECK(lines == n);
    CHECK(i == rows.size());
    CHECK(readRowTable(rowsSidecarPath(dir / "e.csv")).size() == n);
}

TEST_CASE("an unfinished stream leaves the earlier files byte for byte and no temporary", "[io][stream]") {
    const int dim = 4;
    const auto dir = freshDir("abandon");
    const auto out = dir / "e.npy";
    stream(out, sampleRows(3, dim), sampleInfo(3), dim, 3);
    const auto before = readFile(out), beforeRows = readFile(rowsSidecarPath(out));

    const auto rows = sampleRows(50, dim);
    const auto info = sampleInfo(50);
    CHECK_THROWS_WITH(
        [&] {
            EmbeddingStreamWriter w(out, dim, 50);
            for (int r = 0; r < 20; ++r)
                w.append(rows.data() + r * dim, info[r]);
            throw Error("cancelled"); // a cancelled or failed embedding run
        }(),
        Catch::Contains("cancelled"));
    CHECK(readFile(out) == before);
    CHECK(readFile(rowsSidecarPath(out)) == beforeRows);
    CHECK(entries(dir) == 2);

    // More rows than announced is a programming error, reported, with nothing written.
    CHECK_THROWS_WITH(
        [&] {
            EmbeddingStreamWriter w(out, dim, 2);
            for (int r = 0; r < 3; ++r)
                w.append(rows.data() + r * dim, info[r]);
        }(),
        Catch::Contains("more rows"));
    CHECK(readFile(out) == before);
    CHECK(entries(dir) == 2);

    CHECK_THROWS_WITH(EmbeddingStreamWriter(dir / "e.txt", dim, 1), Catch::Contains("unsupported"));
    CHECK_THROWS_WITH(EmbeddingStreamWriter(dir / "missing" / "e.npy", dim, 1), Catch::Contains("does not exist"));
}

TEST_CASE("an atomic writer can patch what it wrote, but only that", "[io]") {
    const auto dir = freshDir("patch");
    {
        AtomicFileWriter w(dir / "a.txt");
        w.stream() << "hello world";
        CHECK(w.size() == 11);
        w.overwrite(6, "there");
        CHECK_THROWS_WITH(w.overwrite(8, "toolong"), Catch::Contains("never written"));
        CHECK(entries(dir) == 1); // the temporary only
        CHECK_FALSE(fs::exists(dir / "a.txt"));
        w.commit();
    }
    CHECK(readFile(dir / "a.txt") == "hello there");
    CHECK(entries(dir) == 1);
}
