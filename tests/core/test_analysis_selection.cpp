#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <string>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "../support/temp_dir.h"
#include "core/analysis/selection_export.h"
#include "core/common/error.h"
#include "core/common/files.h"
#include "core/image/decode.h"
#include "core/io/atomic_file.h"

using namespace vitrine::core;
using namespace vitrine::core::io;
using namespace vitrine::core::analysis;
using vitrine::testutil::TempDir;
namespace fs = std::filesystem;

namespace {

/// A solid-colour PNG (RGB given) of w x h.
void solidPng(const fs::path& file, int w, int h, cv::Vec3b rgb) {
    fs::create_directories(file.parent_path());
    cv::Mat bgr(h, w, CV_8UC3, cv::Scalar(rgb[2], rgb[1], rgb[0]));
    REQUIRE(cv::imwrite(file.string(), bgr));
}

cv::Scalar meanOf(const cv::Mat& m) { return cv::mean(m); }

double colourDistance(const cv::Scalar& a, const cv::Scalar& b) {
    return std::max({std::abs(a[0] - b[0]), std::abs(a[1] - b[1]), std::abs(a[2] - b[2])});
}

/// The first photos of a demo breed folder, sorted by name.
std::vector<fs::path> demoPhotos(const std::string& breed, std::size_t n) {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(fs::path(VITRINE_TEST_DATA) / breed))
        if (e.path().extension() == ".jpg")
            out.push_back(e.path());
    std::sort(out.begin(), out.end());
    out.resize(std::min(out.size(), n));
    return out;
}

} // namespace

TEST_CASE("a selection's CSV round-trips awkward names, labels and scores", "[select]") {
    TempDir tmp("selection-csv");
    const std::vector<SelectedImage> images = {
        {"cat/a,b.jpg", "cat", 0.5},
        {"dog/say \"woof\".jpg", "dog, maybe", -1.25},
        {"猫/ねこ é.jpg", "猫", std::nan("")},
        {" leading space.jpg", "", 1e-7},
        {"dog/line\nbreak.jpg", "dog", 0.123456789},
    };
    writeSelectionCsv(tmp / "sel.csv", images);
    const auto text = readFile(tmp / "sel.csv");
    CHECK(text.rfind("path,label,score\r\n", 0) == 0);
    CHECK(text.find("\"cat/a,b.jpg\",cat,0.5\r\n") != std::string::npos);
    CHECK(text.find("\"dog/say \"\"woof\"\".jpg\",\"dog, maybe\"") != std::string::npos);
    CHECK(text.find("猫/ねこ é.jpg,猫,\r\n") != std::string::npos); // UTF-8 as is; no score, empty field

    const auto back = readSelectionCsv(tmp / "sel.csv");
    REQUIRE(back.size() == images.size());
    for (std::size_t i = 0; i < images.size(); ++i) {
        INFO(images[i].path);
        CHECK(back[i].path == images[i].path);
        CHECK(back[i].label == images[i].label);
        if (std::isnan(images[i].score))
            CHECK(std::isnan(back[i].score));
        else
            CHECK(back[i].score == Approx(images[i].score).epsilon(1e-8));
    }
    // No scores at all: no score column.
    writeSelectionCsv(tmp / "plain.csv", {{"a.jpg", "x"}});
    CHECK(readFile(tmp / "plain.csv") == "path,label\r\na.jpg,x\r\n");
    // A CSV without a path column is refused, naming the file.
    writeFileAtomically(tmp / "bad.csv", "file,label\r\na.jpg,x\r\n");
    CHECK_THROWS_WITH(readSelectionCsv(tmp / "bad.csv"), Catch::Contains("bad.csv") && Catch::Contains("path"));
}

TEST_CASE("an ImageFolder copy never overwrites and leaves the sources untouched", "[select]") {
    TempDir tmp("selection-copy");
    const auto data = tmp / "data";
    solidPng(data / "cat/x.png", 20, 10, {200, 10, 10});
    solidPng(data / "dog/x.png", 10, 20, {10, 200, 10}); // same name, other image
    solidPng(data / "cat/y.png", 8, 8, {10, 10, 200});
    solidPng(data / "cat/z.png", 8, 8, {90, 90, 90});
    const auto out = tmp / "out";
    solidPng(out / "cat/y.png", 5, 5, {1, 2, 3}); // already there
    const auto beforeY = readFile(out / "cat/y.png");
    std::map<std::string, std::string> sources;
    std::map<std::string, fs::file_time_type> times;
    for (const auto* rel : {"cat/x.png", "dog/x.png", "cat/y.png", "cat/z.png"}) {
        sources[rel] = readFile(data / rel);
        times[rel] = fs::last_write_time(data / rel);
    }

    const std::vector<SelectedImage> sel = {
        {"cat/x.png", "cat"}, {"dog/x.png", "cat"}, {"cat/y.png", "cat"}, {(data / "cat/z.png").string(), ""}};
    long long lastDone = 0;
    const auto copied = copyAsImageFolder(data, sel, out,
                                          [&](long long d, long long, const vitrine::core::Stage&) { lastDone = d; });
    REQUIRE(copied.size() == 4);
    CHECK(lastDone == 4);
    CHECK(copied[0].destination == out / "cat/x.png");
    CHECK(copied[1].destination == out / "cat/x (2).png"); // clash within the selection
    CHECK(copied[2].destination == out / "cat/y (2).png"); // clash with a file already there
    CHECK(copied[3].destination == out / "unlabelled/z.png");
    CHECK(readFile(out / "cat/x.png") == sources["cat/x.png"]);
    CHECK(readFile(out / "cat/x (2).png") == sources["dog/x.png"]);
    CHECK(readFile(out / "cat/y (2).png") == sources["cat/y.png"]);
    CHECK(readFile(out / "cat/y.png") == beforeY);
    CHECK(readFile(out / "unlabelled/z.png") == sources["cat/z.png"]);
    for (const auto& [rel, bytes] : sources) {
        INFO(rel);
        CHECK(readFile(data / rel) == bytes);
        CHECK(fs::last_write_time(data / rel) == times[rel]);
    }
    // No temporaries left behind.
    for (const auto& e : fs::recursive_directory_iterator(out))
        CHECK(e.path().filename().string().find("vitrine-part") == std::string::npos);
    // Copying into the data set itself makes copies beside the originals, never over them.
    const auto again = copyAsImageFolder(data, {{"cat/x.png", "cat"}}, data);
    CHECK(again[0].destination == data / "cat/x (2).png");
    CHECK(readFile(data / "cat/x.png") == sources["cat/x.png"]);
    // A missing source is named.
    CHECK_THROWS_WITH(copyAsImageFolder(data, {{"cat/missing.png", "cat"}}, out), Catch::Contains("cat/missing.png"));
    // Labels cannot lead outside the output folder.
    CHECK(labelFolderName("../up") == ".._up");
    CHECK(labelFolderName("..") == "_..");
    CHECK(labelFolderName("") == "unlabelled");
    CHECK(labelFolderName("Maine Coon") == "Maine Coon");
}

TEST_CASE("a montage has one letterboxed cell per image, in order, each showing its image", "[select]") {
    TempDir tmp("selection-montage");
    const auto data = tmp / "data";
    // Solid colours of different shapes, then two real photos.
    solidPng(data / "a/red.png", 120, 60, {220, 30, 30});
    solidPng(data / "a/green.png", 40, 100, {30, 200, 60});
    solidPng(data / "b/blue.png", 64, 64, {40, 60, 210});
    std::vector<SelectedImage> sel = {{"a/red.png", "a"}, {"a/green.png", "a"}, {"b/blue.png", "b"}};
    for (const auto& p : demoPhotos("cat/Bengal", 2)) {
        fs::copy_file(p, data / "b" / p.filename());
        sel.push_back({"b/" + p.filename().string(), "b"});
    }
    MontageOptions o;
    o.columns = 2;
    o.cell = 64;
    o.gap = 4;
    o.caption = MontageOptions::Caption::None;
    const auto m = renderMontage(data, sel, o);
    REQUIRE(m.warnings.empty());
    // 5 images in 2 columns: 3 rows of 64 px cells with 4 px gaps, no caption strip.
    CHECK(m.image.cols == 2 * 64 + 3 * 4);
    CHECK(m.image.rows == 3 * 64 + 4 * 4);
    CHECK(m.image.type() == CV_8UC3);
    REQUIRE(m.pictures.size() == sel.size());
    REQUIRE(m.cells.size() == sel.size());
    for (std::size_t i = 0; i < sel.size(); ++i) {
        INFO(sel[i].path);
        const cv::Rect cell = m.cells[i];
        CHECK(cell == cv::Rect(4 + int(i % 2) * 68, 4 + int(i / 2) * 68, 64, 64));
        const cv::Rect pic = m.pictures[i];
        CHECK((pic & cell) == pic); // inside its cell, centred
        CHECK(std::abs((pic.x - cell.x) - (cell.br().x - pic.br().x)) <= 1);
        CHECK(std::abs((pic.y - cell.y) - (cell.br().y - pic.br().y)) <= 1);
        const cv::Mat src = vitrine::core::image::decodeRgb(data / sel[i].path);
        // Aspect ratio kept, longer side filling the cell.
        CHECK(std::max(pic.width, pic.height) == 64);
        CHECK(double(pic.width) / pic.height == Approx(double(src.cols) / src.rows).epsilon(0.05));
        // The cell shows this image: its mean colour is the source's.
        CHECK(colourDistance(meanOf(m.image(pic)), meanOf(src)) < 4.0);
    }
    CHECK(m.pictures[0].size() == cv::Size(64, 32)); // 120 x 60
    CHECK(m.pictures[1].size() == cv::Size(26, 64)); // 40 x 100

    // Captions add a strip under each row; the cells keep their size.
    o.caption = MontageOptions::Caption::Both;
    const auto captioned = renderMontage(data, sel, o);
    CHECK(captioned.image.cols == m.image.cols);
    CHECK(captioned.image.rows > m.image.rows);
    CHECK(captioned.cells[2].y > m.cells[2].y);
    // The caption is drawn in the strip: it is not plain background.
    const cv::Rect strip(captioned.cells[0].x, captioned.cells[0].br().y, 64,
                         captioned.cells[2].y - 4 - captioned.cells[0].br().y);
    CHECK(colourDistance(meanOf(captioned.image(strip)), o.background) > 2.0);

    // Written atomically as a PNG of the same pixels.
    const auto written = writeMontage(tmp / "m.png", data, sel, o);
    const cv::Mat back = vitrine::core::image::decodeRgb(tmp / "m.png");
    CHECK(back.size() == written.image.size());
    CHECK(cv::norm(back, written.image, cv::NORM_INF) == 0);
}

TEST_CASE("a montage draws an unreadable image as a placeholder and names it in a warning", "[select]") {
    TempDir tmp("selection-montage-bad");
    const auto data = tmp / "data";
    solidPng(data / "a/red.png", 32, 32, {220, 30, 30});
    writeFileAtomically(data / "a/broken.jpg", "<html>not an image</html>");
    solidPng(data / "a/blue.png", 32, 32, {30, 30, 220});
    MontageOptions o;
    o.cell = 32;
    o.columns = 3;
    const auto m = renderMontage(data, {{"a/red.png", "a"}, {"a/broken.jpg", "a"}, {"a/blue.png", "a"}}, o);
    REQUIRE(m.warnings.size() == 1);
    CHECK(m.warnings[0].find("broken.jpg") != std::string::npos);
    CHECK(m.pictures[1] == m.cells[1]);
    CHECK(colourDistance(meanOf(m.image(m.pictures[0])), cv::Scalar(220, 30, 30)) < 2.0);
    CHECK(colourDistance(meanOf(m.image(m.pictures[2])), cv::Scalar(30, 30, 220)) < 2.0);
    // The placeholder is neither of its neighbours' colours.
    CHECK(colourDistance(meanOf(m.image(m.cells[1])), cv::Scalar(220, 30, 30)) > 50.0);
    // A missing file too, by name.
    const auto missing = renderMontage(data, {{"a/gone.png", "a"}}, o);
    REQUIRE(missing.warnings.size() == 1);
    CHECK(missing.warnings[0].find("gone.png") != std::string::npos);
    // Nothing to draw, or maps that do not match the images: the caller's mistake, an error.
    CHECK_THROWS_AS(renderMontage(data, {}, o), Error);
    CHECK_THROWS_AS(renderMontage(data, {{"a/red.png", "a"}}, o, {cv::Mat(), cv::Mat()}), Error);
}

TEST_CASE("a montage overlays each image's own attention map", "[select]") {
    TempDir tmp("selection-montage-maps");
    const auto data = tmp / "data";
    solidPng(data / "a/grey1.png", 48, 48, {128, 128, 128});
    solidPng(data / "a/grey2.png", 48, 48, {128, 128, 128});
    MontageOptions o;
    o.cell = 48;
    o.caption = MontageOptions::Caption::None;
    o.heatmap.opacity = 1.0;
    o.heatmap.interpolation = vitrine::core::analysis::Interpolation::Nearest;
    // Image 0: hot on the left half, cold on the right; image 1: no map.
    cv::Mat map(2, 2, CV_32F, cv::Scalar(0));
    map.at<float>(0, 0) = map.at<float>(1, 0) = 1.0f;
    const std::vector<SelectedImage> sel = {{"a/grey1.png", "a"}, {"a/grey2.png", "a"}};
    const auto m = renderMontage(data, sel, o, {map, cv::Mat()});
    const cv::Rect p0 = m.pictures[0];
    const cv::Mat left = m.image(cv::Rect(p0.x, p0.y, p0.width / 2, p0.height));
    const cv::Mat right = m.image(cv::Rect(p0.x + p0.width / 2, p0.y, p0.width / 2, p0.height));
    const auto hot = vitrine::core::analysis::colorizeMap(cv::Mat(1, 1, CV_32F, cv::Scalar(1)), o.heatmap.colormap);
    const auto cold = vitrine::core::analysis::colorizeMap(cv::Mat(1, 1, CV_32F, cv::Scalar(0)), o.heatmap.colormap);
    CHECK(colourDistance(meanOf(left), meanOf(hot)) < 3.0);
    CHECK(colourDistance(meanOf(right), meanOf(cold)) < 3.0);
    CHECK(colourDistance(meanOf(m.image(m.pictures[1])), cv::Scalar(128, 128, 128)) < 1.0);
    CHECK_THROWS_AS(renderMontage(data, sel, o, {cv::Mat(2, 2, CV_8U), cv::Mat()}), Error);
}
