#include <catch2/catch.hpp>

#include "cli_run.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/io/atomic_file.h"
#include "core/io/row_table.h"
#include "core/io/npy.h"

using namespace vitrine::core;
namespace fs = std::filesystem;

namespace {

/// The shared runner (tests/cli/cli_run.h): stdout captured, stderr through a file in `dir`.
vitrine::testutil::CliRun runCli(const std::string& args, const fs::path& dir) { return vitrine::testutil::cli(args, dir); }

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

    auto csv = runCli("embed --model vit-micro --data " + (dir / "data").string() + " --out " + (dir / "e.csv").string(), dir);
    CHECK(csv.code == 0);
    std::ifstream in(dir / "e.csv");
    std::string line;
    int lines = 0;
    while (std::getline(in, line))
        ++lines;
    CHECK(lines == 3);

    auto bad = runCli("embed --model vit-micro --data " + (dir / "data").string() + " --out " + (dir / "e.txt").string(), dir);
    CHECK(bad.code != 0);
    CHECK(bad.err.find(".txt") != std::string::npos);
    fs::remove_all(dir);
}

TEST_CASE("embed exits non-zero when nothing could be embedded", "[cli][embed]") {
    const auto dir = fs::temp_directory_path() / ("vitrine_cli_embed_bad_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    makeData(dir / "data", false);
    auto r = runCli("embed --model vit-micro --data " + (dir / "data").string() + " --out " + (dir / "e.npy").string(), dir);
    CHECK(r.code != 0);
    CHECK_FALSE(fs::exists(dir / "e.npy"));
    fs::remove_all(dir);
}
