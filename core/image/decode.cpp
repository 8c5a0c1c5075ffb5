#include "core/image/decode.h"

#include <optional>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/common/error.h"
#include "core/common/files.h"
#include "core/image/codecs.h"
#include "core/image/image_probe.h"
#include "core/image/jpeg_window.h"

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
    case 7:
        cv::transpose(m, m);
        cv::rotate(m, m, cv::ROTATE_180);
        break;
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

namespace {

ImageProbe checkedProbe(std::string_view bytes, const std::filesystem::path& name, const DecodeOptions& options) {
    std::string why;
    auto probe = probeImage(bytes, /*wholeFile=*/true, &why);
    if (!probe)
        throw Error(name, why);
    if (const std::string problem = sizeProblem(probe->width, probe->height, options.maxPixels); !problem.empty())
        throw Error(name, problem + "; it was not decoded");
    if (!probe->complete && options.requireComplete)
        throw Error(name, std::string("truncated ") + formatName(probe->format) +
                              " (the file ends before the image data does)");
    return *probe;
}

// The DCT scale 1/denominator options.minShortSide allows (1 for other formats).
int jpegScaleDenominator(const ImageProbe& probe, const DecodeOptions& options) {
    if (probe.format != Format::Jpeg || options.minShortSide <= 0)
        return 1;
    const std::int64_t shortSide = std::min(probe.width, probe.height);
    for (int d : {8, 4, 2})
        if (shortSide >= d * static_cast<std::int64_t>(options.minShortSide))
            return d;
    return 1;
}

} // namespace

cv::Mat decodeRgbFromMemory(std::string_view bytes, const std::filesystem::path& name, const DecodeOptions& options) {
    const ImageProbe probe = checkedProbe(bytes, name, options);
    LibraryDecodeOptions library;
    library.maxPixels = options.maxPixels;
    library.opencvFlags = cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION;
    switch (jpegScaleDenominator(probe, options)) {
    case 8: library.opencvFlags = cv::IMREAD_REDUCED_COLOR_8 | cv::IMREAD_IGNORE_ORIENTATION; break;
    case 4: library.opencvFlags = cv::IMREAD_REDUCED_COLOR_4 | cv::IMREAD_IGNORE_ORIENTATION; break;
    case 2: library.opencvFlags = cv::IMREAD_REDUCED_COLOR_2 | cv::IMREAD_IGNORE_ORIENTATION; break;
    default: break;
    }
    cv::Mat rgb;
    try {
        rgb = decodeWithLibrary(probe.format, bytes, library);
    } catch (const std::runtime_error& e) {
        throw Error(name, e.what());
    }
    // libheif, libjxl and OpenCV's TIFF reader (libtiff) orient their output themselves;
    // a JPEG's EXIF orientation is applied here.
    if (probe.format == Format::Jpeg)
        applyOrientation(rgb, probe.exifOrientation);
    return rgb;
}

DecodedRegion decodeRgbRegion(const std::filesystem::path& path, const DecodeOptions& options,
                              const std::function<cv::Rect(int, int)>& window) {
    const std::string bytes = readFile(path, std::size_t(1) << 30);
    const ImageProbe probe = checkedProbe(bytes, path, options);
    // A rotated JPEG's window lies elsewhere in the stored image; those decode whole.
    if (probe.format == Format::Jpeg && probe.exifOrientation == 1) {
        std::optional<JpegWindow> part;
        try {
            part = decodeJpegWindow(bytes, jpegScaleDenominator(probe, options), options.maxPixels, window);
        } catch (const std::runtime_error& e) {
            throw Error(path, e.what());
        }
        if (part)
            return {std::move(part->rgb), part->width, part->height, part->x, part->y};
        // CMYK / YCCK: OpenCV's conversion below.
    }
    DecodedRegion whole;
    whole.rgb = decodeRgbFromMemory(bytes, path, options);
    whole.width = whole.rgb.cols;
    whole.height = whole.rgb.rows;
    return whole;
}

cv::Mat decodeRgb(const std::filesystem::path& path, const DecodeOptions& options) {
    // Files larger than any plausible photo are refused before reading them.
    std::string bytes = readFile(path, std::size_t(1) << 30);
    return decodeRgbFromMemory(bytes, path, options);
}

} // namespace vitrine::core::image
