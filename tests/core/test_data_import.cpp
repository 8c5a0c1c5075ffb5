// core/data/import_rules: what a dropped or added folder or file contributes to an open
// data set, on a temporary folder tree (hidden files, recursion, class from the folder's
// name, non-images, symbolic links and their loops, duplicates).
#include "core/data/import_rules.h"
#include "tests/support/temp_dir.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

namespace fs = std::filesystem;
using namespace vitrine::core::data;
using vitrine::testutil::TempDir;

namespace {
fs::path demoPhoto() {
    for (const auto& e : fs::recursive_directory_iterator(VITRINE_TEST_DATA))
        if (e.is_regular_file() && e.path().extension() == ".jpg")
            return e.path();
    return {};
}
void photo(const fs::path& to) {
    fs::create_directories(to.parent_path());
    fs::copy_file(demoPhoto(), to);
}
void text(const fs::path& to, const std::string& body) {
    fs::create_directories(to.parent_path());
    std::ofstream(to) << body;
}
std::set<std::string> relativePaths(const Import& in) {
    std::set<std::string> out;
    for (const auto& s : in.samples)
        out.insert(s.relativePath);
    return out;
}
std::string reasonFor(const Import& in, const std::string& fileName) {
    for (const auto& k : in.skipped)
        if (fs::path(k.path).filename() == fileName)
            return k.reason;
    return "(not skipped)";
}
} // namespace

TEST_CASE("an added folder of loose images is one class named after the folder", "[data][import]") {
    REQUIRE_FALSE(demoPhoto().empty());
    TempDir tmp("import-loose");
    photo(tmp / "kittens/a.jpg");
    photo(tmp / "kittens/b.jpg");
    const Import in = importFolders({tmp / "kittens"});
    REQUIRE(relativePaths(in) == std::set<std::string>{"kittens/a.jpg", "kittens/b.jpg"});
    for (const auto& s : in.samples) {
        CHECK(s.labels == std::vector<std::string>{"kittens"});
        CHECK(s.path.is_absolute());
    }
    CHECK(in.skipped.empty());
}

TEST_CASE("an added folder of class folders adds each class, recursively, under the folder's name", "[data][import]") {
    TempDir tmp("import-classes");
    photo(tmp / "pets/cat/a.jpg");
    photo(tmp / "pets/dog/samoyed/b.jpg");
    photo(tmp / "pets/loose.jpg");
    const Import in = importFolders({tmp / "pets"});
    std::map<std::string, std::vector<std::string>> labels;
    for (const auto& s : in.samples)
        labels[s.relativePath] = s.labels;
    CHECK(labels == std::map<std::string, std::vector<std::string>>{{"pets/cat/a.jpg", {"cat"}},
                                                                    {"pets/dog/samoyed/b.jpg", {"dog", "samoyed"}},
                                                                    {"pets/loose.jpg", {"pets"}}});
}

TEST_CASE("an added folder leaves out hidden files and folders and reports what is not an image", "[data][import]") {
    TempDir tmp("import-hidden");
    photo(tmp / "set/cat/a.jpg");
    photo(tmp / "set/cat/.secret.jpg");
    photo(tmp / "set/.git/objects/c.jpg");
    text(tmp / "set/cat/notes.txt", "not a photo");
    text(tmp / "set/cat/fake.jpg", "<html>not a photo</html>");
    text(tmp / "set/README.md", "a data set's own documentation");
    const Import in = importFolders({tmp / "set"});
    CHECK(relativePaths(in) == std::set<std::string>{"set/cat/a.jpg"});
    CHECK(reasonFor(in, "notes.txt") == "not an image file (extension '.txt')");
    CHECK(reasonFor(in, "fake.jpg") != "(not skipped)");
    CHECK(reasonFor(in, ".secret.jpg") == "(not skipped)"); // hidden: neither added nor a problem
    CHECK(reasonFor(in, "README.md") == "(not skipped)");
    CHECK(in.skipped.size() == 2);
}

TEST_CASE("an added folder follows symbolic links to folders once and reports loops and broken links",
          "[data][import]") {
    TempDir tmp("import-links");
    photo(tmp / "set/cat/a.jpg");
    photo(tmp / "elsewhere/b.jpg");
    fs::create_directory_symlink(tmp / "elsewhere", tmp / "set/linked");
    fs::create_directory_symlink(tmp / "set", tmp / "set/cat/loop");
    fs::create_symlink(tmp / "missing.jpg", tmp / "set/cat/broken.jpg");
    const Import in = importFolders({tmp / "set"});
    CHECK(relativePaths(in) == std::set<std::string>{"set/cat/a.jpg", "set/linked/b.jpg"});
    CHECK(reasonFor(in, "loop") == "symbolic link loop (folder already scanned); skipped");
    CHECK(reasonFor(in, "broken.jpg") == "broken symbolic link (target missing or a loop)");
}

TEST_CASE("two added folders contribute both; samples already in the data set are not added twice", "[data][import]") {
    TempDir tmp("import-dupes");
    photo(tmp / "cats/a.jpg");
    photo(tmp / "dogs/b.jpg");
    const Import in = importFolders({tmp / "cats", tmp / "dogs"});
    CHECK(relativePaths(in) == std::set<std::string>{"cats/a.jpg", "dogs/b.jpg"});
    Dataset ds;
    ds.samples = in.samples;
    Dataset again;
    again.samples = importFolders({tmp / "cats"}).samples;
    CHECK(ds.merge(again) == 0);
    CHECK(ds.samples.size() == 2);
}

TEST_CASE("a folder that is missing or a file is refused by name", "[data][import]") {
    TempDir tmp("import-missing");
    text(tmp / "plain.txt", "x");
    CHECK_THROWS_WITH(importFolders({tmp / "nope"}), Catch::Contains("nope") && Catch::Contains("does not exist"));
    CHECK_THROWS_WITH(importFolders({tmp / "plain.txt"}), Catch::Contains("is not a folder"));
}

TEST_CASE("dropped files: images are kept as given, the rest are reported with a reason", "[data][import]") {
    TempDir tmp("import-files");
    photo(tmp / "a.jpg");
    text(tmp / "notes.txt", "x");
    text(tmp / "noext", "x");
    text(tmp / "fake.png", "<html>");
    fs::create_directory(tmp / "folder.jpg");
    const Import in = checkDroppedFiles(
        {tmp / "a.jpg", tmp / "notes.txt", tmp / "noext", tmp / "fake.png", tmp / "folder.jpg", tmp / "gone.jpg"});
    REQUIRE(in.samples.size() == 1);
    CHECK(in.samples[0].path == tmp / "a.jpg");
    CHECK(reasonFor(in, "notes.txt") == "not an image file (extension '.txt')");
    CHECK(reasonFor(in, "noext") == "not an image file (extension '.')");
    CHECK(reasonFor(in, "folder.jpg") == "not a file");
    CHECK(reasonFor(in, "gone.jpg") == "not a file");
    CHECK(reasonFor(in, "fake.png") != "(not skipped)");
    CHECK(reasonFor(in, "fake.png").find("not a file") == std::string::npos);
    CHECK(in.skipped.size() == 5);
}

TEST_CASE("files added to an existing class keep its parents; a new class is one label", "[data][import]") {
    Dataset ds;
    Sample bengal;
    bengal.path = "/data/cat/Bengal/x.jpg";
    bengal.relativePath = "cat/Bengal/x.jpg";
    bengal.labels = {"cat", "Bengal"};
    ds.samples = {bengal};
    CHECK(labelsForClass(ds, -1, "Bengal") == std::vector<std::string>{"cat", "Bengal"});
    CHECK(labelsForClass(ds, 0, "cat") == std::vector<std::string>{"cat"});
    CHECK(labelsForClass(ds, -1, "Sphynx") == std::vector<std::string>{"Sphynx"});

    const auto samples = samplesForClass({"/drop/here/../y.jpg"}, {"cat", "Bengal"});
    REQUIRE(samples.size() == 1);
    CHECK(samples[0].path == fs::path("/drop/y.jpg"));
    CHECK(samples[0].relativePath == "cat/Bengal/y.jpg");
    CHECK(samples[0].labels == std::vector<std::string>{"cat", "Bengal"});
}
