#include <catch2/catch.hpp>

#include "cli_run.h"

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "../support/temp_dir.h"
#include "core/analysis/selection_export.h"
#include "core/common/files.h"
#include "core/image/decode.h"
#include "core/io/atomic_file.h"

using vitrine::testutil::cli;
using vitrine::testutil::q;
using vitrine::testutil::TempDir;
namespace fs = std::filesystem;

namespace {

/// The first photo (by name) of a demo breed folder.
fs::path firstPhoto(const std::string& breed) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(fs::path(VITRINE_TEST_DATA) / breed))
        if (e.path().extension() == ".jpg")
            files.push_back(e.path());
    REQUIRE(!files.empty());
    return *std::min_element(files.begin(), files.end());
}

/// Three real photos under cat/ and dog/ (renamed), one of them with a comma in its name.
fs::path threePhotos(const fs::path& root) {
    fs::create_directories(root / "cat");
    fs::create_directories(root / "dog");
    fs::copy_file(firstPhoto("cat/Bengal"), root / "cat/Bengal_1.jpg");
    fs::copy_file(firstPhoto("cat/Birman"), root / "cat/Birman, the 1st.jpg");
    fs::copy_file(firstPhoto("dog/beagle"), root / "dog/beagle_1.jpg");
    return root;
}

} // namespace

TEST_CASE("select writes a CSV, an ImageFolder copy and a montage from a list of paths", "[cli][select]") {
    TempDir tmp("cli-select");
    const auto data = threePhotos(tmp / "pets");
    vitrine::core::io::writeFileAtomically(tmp / "list.txt", "cat/Birman, the 1st.jpg\r\n\ndog/beagle_1.jpg\n" +
                                                                 (data / "cat/Bengal_1.jpg").string() + "\n");
    auto r = cli("select --data " + q(data) + " --paths-from " + q(tmp / "list.txt") + " --csv " + q(tmp / "sel.csv") +
                     " --copy-to " + q(tmp / "out") + " --montage " + q(tmp / "m.png") +
                     " --columns 2 --cell 64 --caption none",
                 tmp.path);
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(vitrine::core::readFile(tmp / "sel.csv") ==
          "path,label\r\n\"cat/Birman, the 1st.jpg\",cat\r\ndog/beagle_1.jpg,dog\r\ncat/Bengal_1.jpg,cat\r\n");
    for (const auto* rel : {"cat/Birman, the 1st.jpg", "dog/beagle_1.jpg", "cat/Bengal_1.jpg"})
        CHECK(vitrine::core::readFile(tmp / "out" / rel) == vitrine::core::readFile(data / rel));
    const auto m = vitrine::core::image::decodeRgb(tmp / "m.png");
    CHECK(m.cols == 2 * 64 + 3 * 4);
    CHECK(m.rows == 2 * 64 + 3 * 4);

    // Again, from stdin: the copies get new names instead of replacing the first ones.
    auto again = cli("select --data " + q(data) + " --paths-from - --copy-to " + q(tmp / "out"), tmp.path,
                     "printf 'dog/beagle_1.jpg\\n' | ");
    INFO(again.err);
    REQUIRE(again.code == 0);
    CHECK(again.out.find("beagle_1 (2).jpg") != std::string::npos);
    CHECK(vitrine::core::readFile(tmp / "out/dog/beagle_1 (2).jpg") ==
          vitrine::core::readFile(data / "dog/beagle_1.jpg"));

    // A whole class.
    auto cats = cli("select --data " + q(data) + " --label cat --csv " + q(tmp / "cats.csv"), tmp.path);
    REQUIRE(cats.code == 0);
    const auto list = vitrine::core::analysis::readSelectionCsv(tmp / "cats.csv");
    REQUIRE(list.size() == 2);
    CHECK(std::all_of(list.begin(), list.end(), [](const auto& s) { return s.label == "cat"; }));
}

TEST_CASE("select names a missing file and its line, and an unreadable one in the montage", "[cli][select]") {
    TempDir tmp("cli-select-errors");
    const auto data = threePhotos(tmp / "pets");
    vitrine::core::io::writeFileAtomically(tmp / "list.txt", "cat/Bengal_1.jpg\ncat/nope.jpg\n");
    auto r = cli("select --data " + q(data) + " --paths-from " + q(tmp / "list.txt") + " --csv " + q(tmp / "x.csv"),
                 tmp.path);
    CHECK(r.code == 1);
    CHECK(r.err.find("line 2") != std::string::npos);
    CHECK(r.err.find("cat/nope.jpg") != std::string::npos);
    CHECK_FALSE(fs::exists(tmp / "x.csv"));

    vitrine::core::io::writeFileAtomically(data / "cat/broken.jpg", "<html></html>");
    vitrine::core::io::writeFileAtomically(tmp / "list2.txt", "cat/Bengal_1.jpg\ncat/broken.jpg\n");
    auto m = cli("select --data " + q(data) + " --paths-from " + q(tmp / "list2.txt") + " --montage " +
                     q(tmp / "m.png"),
                 tmp.path);
    INFO(m.err);
    CHECK(m.code == 0);
    CHECK(m.err.find("warning: ") != std::string::npos);
    CHECK(m.err.find("cat/broken.jpg") != std::string::npos);
    CHECK(fs::exists(tmp / "m.png"));

    // Nothing to make: a usage error.
    auto nothing = cli("select --data " + q(data) + " --paths-from " + q(tmp / "list.txt"), tmp.path);
    CHECK(nothing.code == 2);
    CHECK(nothing.err.find("--csv") != std::string::npos);
}
