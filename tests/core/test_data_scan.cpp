// core/data: folder-per-class scanning, nested labels, skipped files with reasons,
// stable splits.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "core/common/error.h"
#include "core/data/dataset.h"

namespace fs = std::filesystem;
using namespace vitrine::core::data;

namespace {
fs::path freshDir(const std::string& name) {
    auto dir = fs::temp_directory_path() / ("vitrine-data-tests-" + std::to_string(::getpid())) / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}
fs::path anyDemoPhoto() {
    for (const auto& e : fs::recursive_directory_iterator(VITRINE_TEST_DATA))
        if (e.is_regular_file() && e.path().extension() == ".jpg")
            return e.path();
    return {};
}
} // namespace

TEST_CASE("the demo set scans to 37 breeds in 2 species", "[data]") {
    Dataset ds = scanFolder(VITRINE_TEST_DATA);
    CHECK(ds.skipped.empty());
    CHECK(ds.samples.size() == 296);
    CHECK(ds.maxLevel() == 1);
    CHECK(ds.classNames(0) == std::vector<std::string>{"cat", "dog"});
    CHECK(ds.classNames(1).size() == 37);
    CHECK(ds.classNames(-1).size() == 37);
    auto ids = ds.classIds(0);
    CHECK(std::count(ids.begin(), ids.end(), 0) == 96);
    CHECK(std::count(ids.begin(), ids.end(), 1) == 200);
    // deterministic, sorted order
    CHECK(std::is_sorted(ds.samples.begin(), ds.samples.end(),
                         [](const Sample& a, const Sample& b) { return a.relativePath < b.relativePath; }));
    CHECK(ds.samples.front().labels == std::vector<std::string>{"cat", "Abyssinian"});
}

TEST_CASE("broken entries are reported with reasons and the rest loads", "[data]") {
    auto dir = freshDir("broken");
    fs::create_directories(dir / "cats");
    fs::copy_file(anyDemoPhoto(), dir / "cats" / "good one, \"quoted\".jpg");
    std::ofstream(dir / "cats" / "zero.jpg").close();
    std::ofstream(dir / "cats" / "page.jpg") << "<html><body>not a cat</body></html>";
    std::ofstream(dir / "cats" / "notes.txt") << "hello";
    fs::create_directories(dir / "cats" / "x.jpg");
    fs::create_directory_symlink(dir, dir / "cats" / "loop");
    fs::create_symlink(dir / "missing.jpg", dir / "cats" / "dangling.jpg");

    Dataset ds = scanFolder(dir);
    REQUIRE(ds.samples.size() == 1);
    CHECK(ds.samples[0].labels == std::vector<std::string>{"cats"});
    std::map<std::string, std::string> reasons;
    for (const auto& s : ds.skipped)
        reasons[fs::path(s.path).filename().string()] = s.reason;
    CHECK_THAT(reasons["zero.jpg"], Catch::Contains("empty"));
    CHECK_THAT(reasons["page.jpg"], Catch::Contains("not an image"));
    CHECK_THAT(reasons["notes.txt"], Catch::Contains("not an image file"));
    CHECK_THAT(reasons["loop"], Catch::Contains("loop"));
    CHECK_THAT(reasons["dangling.jpg"], Catch::Contains("broken symbolic link"));
}

TEST_CASE("scanning a missing folder or a file is an error that says so", "[data]") {
    CHECK_THROWS_WITH(scanFolder("/nonexistent/vitrine"), Catch::Contains("does not exist"));
    CHECK_THROWS_WITH(scanFolder(anyDemoPhoto()), Catch::Contains("not a folder"));
}

TEST_CASE("scanning can be cancelled", "[data]") {
    vitrine::core::CancelToken token;
    token.cancel();
    CHECK_THROWS_AS(scanFolder(VITRINE_TEST_DATA, {}, {}, &token), vitrine::core::Cancelled);
}

TEST_CASE("the validation split is stable and close to the fraction", "[data]") {
    Dataset ds = scanFolder(VITRINE_TEST_DATA);
    int val = 0;
    for (const auto& s : ds.samples)
        val += isValidation(s.relativePath) ? 1 : 0;
    CHECK(val > 296 * 0.12);
    CHECK(val < 296 * 0.28);
    CHECK(isValidation("cat/Bengal/Bengal_1.jpg") == isValidation("cat/Bengal/Bengal_1.jpg"));
}

TEST_CASE("merging adds new samples once and keeps the order", "[data]") {
    Dataset a = scanFolder(VITRINE_TEST_DATA);
    Dataset b = a;
    CHECK(a.merge(b) == 0);
    Dataset extra;
    Sample s;
    s.path = "/tmp/new.jpg";
    s.relativePath = "aaa/new.jpg";
    s.labels = {"aaa"};
    extra.samples.push_back(s);
    CHECK(a.merge(extra) == 1);
    CHECK(a.samples.front().relativePath == "aaa/new.jpg");
}
