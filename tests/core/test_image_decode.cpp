// core/image: every supported source decodes to 8-bit RGB the right way up; every
// broken file is refused with its path and a reason, never a crash.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/common/error.h"
#include "core/common/files.h"
#include "core/image/decode.h"
#include "core/image/image_probe.h"

namespace fs = std::filesystem;
using vitrine::core::Error;
using namespace vitrine::core::image;

namespace {

fs::path fixture(const std::string& name) { return fs::path(VITRINE_FIXTURES) / "images" / name; }

fs::path scratchDir() {
    auto dir = fs::temp_directory_path() / ("vitrine-image-tests-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    return dir;
}

void writeBytes(const fs::path& p, const std::string& bytes) {
    std::ofstream out(p, std::ios::binary);
    out << bytes;
}

double meanAbsDiff(const cv::Mat& a, const cv::Mat& b) {
    REQUIRE(a.size() == b.size());
    REQUIRE(a.type() == b.type());
    cv::Mat d;
    cv::absdiff(a, b, d);
    cv::Scalar m = cv::mean(d);
    return (m[0] + m[1] + m[2]) / 3.0;
}

std::string decodeError(const fs::path& p, const DecodeOptions& o = {}) {
    try {
        decodeRgb(p, o);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST_CASE("valid but odd images load as upright 8-bit RGB", "[image]") {
    const cv::Mat expected = decodeRgb(fixture("expected_upright.png"));
    REQUIRE(expected.type() == CV_8UC3);
    REQUIRE(expected.cols == 48);
    REQUIRE(expected.rows == 32);
    // top-left quadrant is red in RGB order
    cv::Vec3b tl = expected.at<cv::Vec3b>(4, 4);
    CHECK(tl[0] > 200);
    CHECK(tl[2] < 60);

    SECTION("EXIF orientations 1-8") {
        for (int o = 1; o <= 8; ++o) {
            INFO("orientation " << o);
            cv::Mat m = decodeRgb(fixture("exif_" + std::to_string(o) + ".jpg"));
            CHECK(meanAbsDiff(m, expected) < 8.0);
        }
    }
    SECTION("colour layouts") {
        for (const char* name : {"cmyk.jpg", "rgba.png", "palette.png", "rgb.webp", "rgb.bmp", "rgb.tiff"}) {
            INFO(name);
            cv::Mat m = decodeRgb(fixture(name));
            CHECK(m.type() == CV_8UC3);
            CHECK(meanAbsDiff(m, expected) < 12.0);
        }
    }
    SECTION("grey sources become three equal channels") {
        for (const char* name : {"grey.png", "grey.jpg", "grey16.png"}) {
            INFO(name);
            cv::Mat m = decodeRgb(fixture(name));
            REQUIRE(m.type() == CV_8UC3);
            cv::Vec3b px = m.at<cv::Vec3b>(4, 4);
            CHECK(px[0] == px[1]);
            CHECK(px[1] == px[2]);
        }
    }
    SECTION("16-bit RGB PNG is scaled to 8 bits") {
        cv::Mat bgr16;
        cv::cvtColor(expected, bgr16, cv::COLOR_RGB2BGR);
        bgr16.convertTo(bgr16, CV_16U, 257.0);
        auto p = scratchDir() / "rgb16.png";
        REQUIRE(cv::imwrite(p.string(), bgr16));
        CHECK(meanAbsDiff(decodeRgb(p), expected) < 1.0);
    }
    SECTION("a 1x1 image") {
        cv::Mat m = decodeRgb(fixture("one_pixel.png"));
        REQUIRE(m.size() == cv::Size(1, 1));
        CHECK(m.at<cv::Vec3b>(0, 0) == cv::Vec3b(10, 20, 30));
    }
}

TEST_CASE("the demo photos decode", "[image]") {
    int count = 0;
    for (const auto& e : fs::recursive_directory_iterator(VITRINE_TEST_DATA)) {
        if (!e.is_regular_file() || !hasImageExtension(e.path().filename().string()))
            continue;
        cv::Mat m = decodeRgb(e.path());
        CHECK(m.type() == CV_8UC3);
        CHECK(m.cols > 32);
        if (++count == 40)
            break;
    }
    CHECK(count == 40);
}

TEST_CASE("JPEG DCT scaling keeps the short side above the requested size", "[image]") {
    fs::path photo;
    for (const auto& e : fs::recursive_directory_iterator(VITRINE_TEST_DATA))
        if (e.is_regular_file() && e.path().extension() == ".jpg") {
            photo = e.path();
            break;
        }
    cv::Mat full = decodeRgb(photo);
    DecodeOptions o;
    o.minShortSide = 32;
    cv::Mat small = decodeRgb(photo, o);
    CHECK(std::min(small.cols, small.rows) >= 32);
    CHECK(small.cols < full.cols);
}

TEST_CASE("broken files are refused with the path and the reason", "[image]") {
    const auto dir = scratchDir();
    const std::string photo = vitrine::core::readFile(fixture("exif_1.jpg"));

    SECTION("zero-byte file") {
        writeBytes(dir / "zero.jpg", "");
        auto msg = decodeError(dir / "zero.jpg");
        CHECK_THAT(msg, Catch::Contains("zero.jpg") && Catch::Contains("empty"));
    }
    SECTION("HTML named .jpg") {
        writeBytes(dir / "page.jpg", "<!DOCTYPE html><html><body>404</body></html>");
        CHECK_THAT(decodeError(dir / "page.jpg"), Catch::Contains("not an image") && Catch::Contains("<!DOCTYPE"));
    }
    SECTION("JPEG cut in half") {
        writeBytes(dir / "half.jpg", photo.substr(0, photo.size() / 2));
        CHECK_THAT(decodeError(dir / "half.jpg"), Catch::Contains("truncated"));
    }
    SECTION("random bytes behind a PNG signature") {
        std::string bytes = "\x89PNG\r\n\x1a\n";
        for (int i = 0; i < 200; ++i)
            bytes += static_cast<char>((i * 7919) & 0xFF);
        writeBytes(dir / "noise.png", bytes);
        CHECK_THAT(decodeError(dir / "noise.png"), Catch::Contains("noise.png") && Catch::Contains("PNG"));
    }
    SECTION("a 30000x30000 PNG is refused before decoding") {
        cv::Mat big(1, 1, CV_8UC3, cv::Scalar(1, 2, 3));
        std::vector<uchar> png;
        cv::imencode(".png", big, png);
        // Patch IHDR width/height to 30000 (CRC is not checked by the probe; the size is
        // refused before libpng would ever see it).
        auto put32 = [&](std::size_t off, std::uint32_t v) {
            png[off] = uchar(v >> 24), png[off + 1] = uchar(v >> 16), png[off + 2] = uchar(v >> 8),
            png[off + 3] = uchar(v);
        };
        put32(16, 30000);
        put32(20, 30000);
        writeBytes(dir / "huge.png", std::string(png.begin(), png.end()));
        CHECK_THAT(decodeError(dir / "huge.png"), Catch::Contains("too large") && Catch::Contains("30000x30000"));
    }
    SECTION("a 2,000,000 x 1 strip") {
        std::string bytes = vitrine::core::readFile(fixture("one_pixel.png"));
        auto put32 = [&](std::size_t off, std::uint32_t v) {
            bytes[off] = char(v >> 24), bytes[off + 1] = char(v >> 16), bytes[off + 2] = char(v >> 8),
            bytes[off + 3] = char(v);
        };
        put32(16, 2'000'000);
        writeBytes(dir / "strip.png", bytes);
        CHECK_THAT(decodeError(dir / "strip.png"), Catch::Contains("strip.png"));
    }
    SECTION("a folder named x.jpg") {
        fs::create_directories(dir / "x.jpg");
        CHECK_THAT(decodeError(dir / "x.jpg"), Catch::Contains("folder"));
    }
    SECTION("a file that does not exist (deleted between scan and load)") {
        CHECK_THAT(decodeError(dir / "gone.jpg"), Catch::Contains("gone.jpg") && Catch::Contains("cannot open"));
    }
    SECTION("the pixel limit is configurable") {
        DecodeOptions tight;
        tight.maxPixels = 100;
        CHECK_THAT(decodeError(fixture("expected_upright.png"), tight), Catch::Contains("too large"));
    }
}

TEST_CASE("the header probe reads sizes without decoding", "[image]") {
    std::string why;
    auto p = probeImage(vitrine::core::readFile(fixture("exif_6.jpg")), true, &why);
    REQUIRE(p);
    CHECK(p->format == Format::Jpeg);
    CHECK(p->exifOrientation == 6);
    CHECK(p->width == 32); // stored rotated
    CHECK(p->height == 48);
    CHECK(p->complete);
    auto w = probeImage(vitrine::core::readFile(fixture("rgb.webp")), true, &why);
    REQUIRE(w);
    CHECK(w->width == 48);
    CHECK(w->height == 32);
    CHECK_FALSE(probeImage("GIF89a....", true, &why));
    CHECK_THAT(why, Catch::Contains("GIF"));
}
