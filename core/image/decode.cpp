#include "core/image/decode.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/common/error.h"
#include "core/common/files.h"
#include "core/image/codecs.h"
#include "core/image/image_probe.h"

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

std::string sizeProblem(std::int64_t width, std::int64_t height, std::int64_t maxPixels) {
    const std::string size = std::to_string(width) + "x" + std::to_string(height) + " pixels";
    // A 100000x1 strip is small to decode, but every consumer scales the short side up to the
    // model's size (a 64-pixel short side makes it 6,400,000 pixels long: gigabytes of floats).
    // No photo is that thin.
    if (std::max(width, height) > kMaxAspectRatio * std::max<std::int64_t>(1, std::min(width, height)))
        return "image too thin (" + size + "; at most " + std::to_string(kMaxAspectRatio) + ":1 is accepted)";
    // Sides first: two 32-bit sides from a crafted header overflow the product (fuzz_image).
    if (width > 1'000'000 || height > 1'000'000 || width * height > maxPixels)
        return "image too large (" + size + ", limit " + std::to_string(maxPixels / 1'000'000) + " Mpx)";
    return {};
}

cv::Mat decodeRgbFromMemory(std::string_view bytes, const std::filesystem::path& name, const DecodeOptions& options) {
    std::string why;
    auto probe = probeImage(bytes, /*wholeFile=*/true, &why);
    if (!probe)
        throw Error(name, why);
    if (const std::string problem = sizeProblem(probe->width, probe->height, options.maxPixels); !problem.empty())
        throw Error(name, problem + "; it was not decoded");
    if (!probe->complete && options.requireComplete)
        throw Error(name, std::string("truncated ") + formatName(probe->format) +
                              " (the file ends before the image data does)");

    LibraryDecodeOptions library;
    library.maxPixels = options.maxPixels;
    library.opencvFlags = cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION;
    if (probe->format == Format::Jpeg && options.minShortSide > 0) {
        const std::int64_t shortSide = std::min(probe->width, probe->height);
        if (shortSide >= 8LL * options.minShortSide)
            library.opencvFlags = cv::IMREAD_REDUCED_COLOR_8 | cv::IMREAD_IGNORE_ORIENTATION;
        else if (shortSide >= 4LL * options.minShortSide)
            library.opencvFlags = cv::IMREAD_REDUCED_COLOR_4 | cv::IMREAD_IGNORE_ORIENTATION;
        else if (shortSide >= 2LL * options.minShortSide)
            library.opencvFlags = cv::IMREAD_REDUCED_COLOR_2 | cv::IMREAD_IGNORE_ORIENTATION;
    }
    cv::Mat rgb;
    try {
        rgb = decodeWithLibrary(probe->format, bytes, library);
    } catch (const std::runtime_error& e) {
        throw Error(name, e.what());
    }
    // libheif, libjxl and OpenCV's TIFF reader (libtiff) orient their output themselves;
    // a JPEG's EXIF orientation is applied here.
    if (probe->format == Format::Jpeg)
        applyOrientation(rgb, probe->exifOrientation);
    return rgb;
}

cv::Mat decodeRgb(const std::filesystem::path& path, const DecodeOptions& options) {
    // Files larger than any plausible photo are refused before reading them.
    std::string bytes = readFile(path, std::size_t(1) << 30);
    return decodeRgbFromMemory(bytes, path, options);
}

} // namespace vitrine::core::image
