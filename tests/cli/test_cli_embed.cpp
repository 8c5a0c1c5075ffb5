#include <catch2/catch.hpp>

#include "cli_run.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/io/atomic_file.h"
#include "core/io/npy.h"
#include "core/io/row_table.h"

using namespace vitrine::core;
namespace fs = std::filesystem;

namespace {

/// The shared runner (tests/cli/cli_run.h): stdout captured, stderr through a file in `dir`.
vitrine::testutil::CliRun runCli(const std::string& args, const fs::path& dir) {
    return vitrine::testutil::cli(args, dir);
}

// A tiny class-per-folder data set: two cats, two dogs, one broken file.
fs::path makeData(const fs::path& root, bool withGood) {
    const fs::path demo(VITRINE_TEST_DATA);
    fs::create_directories(root / "cat");
    fs::create_directories(root / "dog");
    if (withGood) {
        fs::copy_file(demo / "cat/Abyssinian/Abyssinian_1.jpg", root / "cat/a1.jpg");
        fs::copy_file(demo / "cat/Abyssinian/Abyssinian_2.jpg", root / "cat/a2.jpg");
        for (const auto& e : fs::directory_iterator(demo / "dog/beagle")) {
            fs::copy_file(e.path(), root / "dog" / e.path().filename());
            break;
        }
    }
    std::ofstream(root / "dog/broken.jpg") << "\xff\xd8\xff\xe0 truncated";
    return root;
}

} // namespace

TEST_CASE("embed writes an .npy and rows.tsv, skipping a broken image", "[cli][embed]") {
    const auto dir = fs::temp_directory_path() / ("vitrine_cli_embed_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    makeData(dir / "data", true);
    const auto out = dir / "emb.npy";
    auto r = runCli("--threads 2 embed --model vit-micro --data " + (dir / "data").string() + " --out " + out.string() +
                        " --batch 2 --precision fp32 --json",
                    dir);
    INFO(r.err);
    CHECK(r.code == 0);
    CHECK(r.err.find("broken.jpg") != std::string::npos);
    CHECK(r.err.find("no trained weights") != std::string::npos);
    auto m = io::readNpyMatrix(out);
    CHECK(m.rows == 3);
    CHECK(m.cols == 128);
    auto rows = io::readRowTable(io::rowsSidecarPath(out));
    REQUIRE(rows.size() == 3);
    CHECK(rows.value(0, "path") == "cat/a1.jpg");
    CHECK(rows.value(0, "label") == "cat");
    CHECK(rows.value(2, "label") == "dog");
    CHECK(r.out.find("\"event\":\"done\"") != std::string::npos);
    CHECK(r.out.find("\"embedded\":3") != std::string::npos);

    auto csv = runCli(
        "embed --model vit-micro --data " + (dir / "data").string() + " --out " + (dir / "e.csv").string(), dir);
    CHECK(csv.code == 0);
    std::ifstream in(dir / "e.csv");
    std::string line;
    int lines = 0;
    while (std::getline(in, line))
        ++lines;
    CHECK(lines == 3);

    auto bad = runCli(
        "embed --model vit-micro --data " + (dir / "data").string() + " --out " + (dir / "e.txt").string(), dir);
    CHECK(bad.code != 0);
    CHECK(bad.err.find(".txt") != std::string::npos);
    fs::remove_all(dir);
}

TEST_CASE("embed exits non-zero when nothing could be embedded", "[cli][embed]") {
    const auto dir = fs::temp_directory_path() / ("vitrine_cli_embed_bad_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    makeData(dir / "data", false);
    auto r = runCli("embed --model vit-micro --data " + (dir / "data").string() + " --out " + (dir / "e.npy").string(),
                    dir);
    CHECK(r.code != 0);
    CHECK_FALSE(fs::exists(dir / "e.npy"));
    fs::remove_all(dir);
}

TEST_CASE("embed --precision int8 stays within cosine 0.99 of float32, with and without VNNI",
          "[cli][embed][precision]") {
    // The pretrained default on real photos. The capped run (oneDNN limited to AVX2, as on a CPU
    // without VNNI) takes the 7-bit activation path; uncapped, this machine's own.
    const auto dir = fs::temp_directory_path() / ("vitrine_cli_int8_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    makeData(dir / "data", true);
    fs::remove(dir / "data/dog/broken.jpg");
    const std::string data = " --data " + (dir / "data").string();
    auto ref = runCli("embed --model default" + data + " --out " + (dir / "fp32.npy").string() + " --precision fp32",
                      dir);
    REQUIRE(ref.code == 0);
    const auto f = io::readNpyMatrix(dir / "fp32.npy");
    for (const char* prefix : {"", "DNNL_MAX_CPU_ISA=AVX2 "}) {
        INFO("environment: " << prefix);
        const auto out = dir / "int8.npy";
        // Options after the subcommand, as people type them.
        auto r = vitrine::testutil::cli("embed --model default" + data + " --out " + out.string() +
                                            " --precision int8 --json --threads 2",
                                        dir, prefix);
        INFO(r.err);
        REQUIRE(r.code == 0);
        CHECK(r.out.find("\"precision\":\"int8\"") != std::string::npos);
        CHECK(r.err.find("int8: least cosine to float32") != std::string::npos);
        const auto q = io::readNpyMatrix(out);
        REQUIRE(q.rows == f.rows);
        REQUIRE(q.cols == f.cols);
        double least = 1.0;
        bool differs = false;
        for (std::int64_t i = 0; i < f.rows; ++i) {
            double dot = 0, a = 0, b = 0;
            for (std::int64_t j = 0; j < f.cols; ++j) {
                const double x = f.data[std::size_t(i * f.cols + j)], y = q.data[std::size_t(i * f.cols + j)];
                dot += x * y;
                a += x * x;
                b += y * y;
                differs = differs || x != y;
            }
            least = std::min(least, dot / std::sqrt(a * b));
        }
        INFO("least cosine " << least);
        CHECK(least >= 0.99);
        CHECK(differs); // int8 really ran
    }
    fs::remove_all(dir);
}
