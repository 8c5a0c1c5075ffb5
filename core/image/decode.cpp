#include "core/image/decode.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/common/error.h"
#include "core/image/image_probe.h"
#include "core/io/atomic_file.h"

namespace vitrine::core::image {
namespace {

constexpr std::int64_t kMaxAspectRatio = 100; ///< long side / short side

void applyOrientation(cv::Mat& m, int orientation) {
    switch (orientation) {
    case 2: cv::flip(m, m, 1); break;
    case 3: cv::rotate(m, m, cv::ROTATE_180); break;
    case 4: cv::flip(m, m, 0); break;
    case 5: cv::transpose(m, m); break;
    case 6: cv::rotate(m, m, cv::ROTATE_90_CLOCKWISE); break;
    case 7: cv::transpose(m, m); cv::rotate(m, m, cv::ROTATE_180); break;
    case 8: cv::rotate(m, m, cv::ROTATE_90_COUNTERCLOCKWISE); break;
    default: break;
    }
}

} // namespace

cv::Mat decodeRgbFromMemory(std::string_view bytes, const std::filesystem::path& name, const DecodeOptions& options) {
    std::string why;
    auto probe = probeImage(bytes, /*wholeFile=*/true, &why);
    if (!probe)
        throw Error(name, why);
    // Sides first: two 32-bit sides from a crafted header overflow the product (fuzz_image).
    if (probe->width > 1'000'000 || probe->height > 1'000'000 || probe->width * probe->height > options.maxPixels)
        throw Error(name, "image too large (" + std::to_string(probe->width) + "x" + std::to_string(probe->height) +
                              " pixels, limit " + std::to_string(options.maxPixels / 1'000'000) +
                              " Mpx); it was not decoded");
    // A 100000x1 strip is small to decode, but every consumer scales the short side up to the
    // model's size (a 64-pixel short side makes it 6,400,000 pixels long: gigabytes of floats).
    // No photo is that thin; refuse it here, with the other size limits.
    if (std::max(probe->width, probe->height) > kMaxAspectRatio * std::max<std::int64_t>(1, std::min(probe->width, probe->height)))
        throw Error(name, "image too thin (" + std::to_string(probe->width) + "x" + std::to_string(probe->height) +
                              " pixels; at most " + std::to_string(kMaxAspectRatio) +
                              ":1 is accepted); it was not decoded");
    if (!probe->complete && options.requireComplete)
        throw Error(name, std::string("truncated ") + formatName(probe->format) +
                              " (the file ends before the image data does)");

    int flags = cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION;
    if (probe->format == Format::Jpeg && options.minShortSide > 0) {
        const std::int64_t shortSide = std::min(probe->width, probe->height);
        if (shortSide >= 8LL * options.minShortSide)
            flags = cv::IMREAD_REDUCED_COLOR_8;
        else if (shortSide >= 4LL * options.minShortSide)
            flags = cv::IMREAD_REDUCED_COLOR_4;
        else if (shortSide >= 2LL * options.minShortSide)
            flags = cv::IMREAD_REDUCED_COLOR_2;
        flags |= cv::IMREAD_IGNORE_ORIENTATION;
    }
    cv::Mat bgr;
    try {
        cv::Mat buf(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
        bgr = cv::imdecode(buf, flags);
    } catch (const cv::Exception& e) {
        throw Error(name, std::string("cannot decode ") + formatName(probe->format) + ": " + e.msg);
    }
    if (bgr.empty())
        throw Error(name, std::string("cannot decode ") + formatName(probe->format) + " (corrupt data)");
    if (bgr.depth() != CV_8U)
        bgr.convertTo(bgr, CV_8U, bgr.depth() == CV_16U ? 1.0 / 257.0 : 1.0);
    cv::Mat rgb;
    if (bgr.channels() == 1)
        cv::cvtColor(bgr, rgb, cv::COLOR_GRAY2RGB);
    else if (bgr.channels() == 4)
        cv::cvtColor(bgr, rgb, cv::COLOR_BGRA2RGB);
    else
        cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    applyOrientation(rgb, probe->exifOrientation);
    return rgb;
}

cv::Mat decodeRgb(const std::filesystem::path& path, const DecodeOptions& options) {
    // Files larger than any plausible photo are refused before reading them.
    std::string bytes = io::readFile(path, std::size_t(1) << 30);
    return decodeRgbFromMemory(bytes, path, options);
}

} // namespace vitrine::core::image
