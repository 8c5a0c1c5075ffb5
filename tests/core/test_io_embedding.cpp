#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "core/common/error.h"
#include "core/common/files.h"
#include "core/io/atomic_file.h"
#include "core/io/csv.h"
#include "core/io/npy.h"
#include "core/io/row_table.h"

using namespace vitrine::core;
namespace fs = std::filesystem;

namespace {
fs::path tmp(const std::string& name) {
    auto d = fs::temp_directory_path() / ("vitrine_embio_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d / name;
}
} // namespace

TEST_CASE("npy files round-trip and carry a NumPy-readable header", "[io][embedding_io]") {
    std::vector<float> data = {1.f, -2.5f, 3.25f, 0.f, 1e-7f, 42.f};
    auto f = tmp("a.npy");
    vitrine::core::Matrix in(2, 3);
    in.data = data;
    io::writeNpyMatrix(f, in);
    auto bytes = readFile(f);
    CHECK(bytes.compare(0, 6, "\x93NUMPY") == 0);
    CHECK(bytes.find("'shape': (2, 3)") != std::string::npos);
    CHECK((bytes.size() - data.size() * 4) % 64 == 0); // data aligned as numpy writes it
    auto m = io::readNpyMatrix(f);
    CHECK(m.rows == 2);
    CHECK(m.cols == 3);
    CHECK(m.data == data);
    io::writeFileAtomically(tmp("bad.npy"), std::string("\x93NUMPY\x01\x00\x10\x00{'descr': '<i4'}", 26));
    CHECK_THROWS_AS(io::readNpyMatrix(tmp("bad.npy")), Error);
}

TEST_CASE("csv rows round-trip floats exactly", "[io][embedding_io]") {
    std::vector<float> data = {0.1f, -1.f / 3.f, 7.f, 1e30f};
    auto f = tmp("a.csv");
    io::writeCsv(f, data.data(), 2, 2);
    std::ifstream in(f);
    std::string line;
    std::getline(in, line);
    CHECK(std::stof(line.substr(0, line.find(','))) == 0.1f);
    CHECK(std::count(line.begin(), line.end(), ',') == 1);
}

TEST_CASE("rows.tsv escapes backslash, tab and newline", "[io][embedding_io]") {
    io::RowTable rows;
    rows.columns = {"path", "label"};
    rows.rows = {{"cat/a b.jpg", "cat"}, {"odd\tname\\x\nz.jpg", "la\tbel"}, {"plain.jpg", ""}};
    auto f = tmp("e.npy");
    io::writeRowTable(io::rowsSidecarPath(f), rows);
    CHECK(io::rowsSidecarPath(f).filename() == "e.npy.rows.tsv");
    auto text = readFile(io::rowsSidecarPath(f));
    CHECK(text.rfind("path\tlabel\n", 0) == 0);
    CHECK(text.find("odd\\tname\\\\x\\nz.jpg\tla\\tbel\n") != std::string::npos);
    auto back = io::readRowTable(io::rowsSidecarPath(f));
    REQUIRE(back.size() == 3);
    for (std::int64_t i = 0; i < 3; ++i) {
        CHECK(back.value(i, "path") == rows.value(i, "path"));
        CHECK(back.value(i, "label") == rows.value(i, "label"));
    }
}
