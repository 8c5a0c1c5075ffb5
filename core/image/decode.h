#pragma once
// Safe image decoding: any supported file -> 8-bit RGB cv::Mat, EXIF orientation
// applied, size limits checked from the header before decoding.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include <opencv2/core/mat.hpp>

namespace vitrine::core::image {

struct DecodeOptions {
    std::int64_t maxPixels = 64'000'000; ///< refuse larger images before allocating
    /// When > 0, JPEGs may be decoded at 1/2, 1/4 or 1/8 scale (DCT scaling) as long
    /// as the shorter side stays >= minShortSide. Much faster for thumbnails/models.
    int minShortSide = 0;
    bool requireComplete = true; ///< refuse truncated files instead of decoding grey
};

/// Why an image of `width` x `height` pixels is refused before decoding (over `maxPixels`,
/// a side over 10^6, or thinner than 100:1), or "" when it is not. The decoder and the
/// data set's quick check share this rule.
std::string sizeProblem(std::int64_t width, std::int64_t height, std::int64_t maxPixels);

/// Decodes `path` to CV_8UC3 RGB. Throws core::Error("<path>: <reason>") for empty,
/// non-image, truncated, oversized or undecodable files.
cv::Mat decodeRgb(const std::filesystem::path& path, const DecodeOptions& options = {});

/// Same from bytes already in memory; `nameForErrors` is used in messages.
cv::Mat decodeRgbFromMemory(std::string_view bytes, const std::filesystem::path& nameForErrors,
                            const DecodeOptions& options = {});

/// Part of a decoded image: `rgb` holds the pixels from (x, y) of the whole width x height
/// image (after DCT scaling and EXIF orientation), at least the rectangle asked for.
struct DecodedRegion {
    cv::Mat rgb; ///< CV_8UC3 RGB
    int width = 0, height = 0;
    int x = 0, y = 0;
};

/// decodeRgb, decoding only what `window(width, height)` asks for where the format allows
/// (an unrotated JPEG: the rows and, to whole blocks, the columns of the window) and the
/// whole image otherwise. The pixels are those decodeRgb gives at the same places.
DecodedRegion decodeRgbRegion(const std::filesystem::path& path, const DecodeOptions& options,
                              const std::function<cv::Rect(int width, int height)>& window);

} // namespace vitrine::core::image
