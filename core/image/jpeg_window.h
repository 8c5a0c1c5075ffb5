#pragma once
// JPEG decoding straight through libjpeg-turbo for the model path: RGB written by the library
// (JCS_EXT_RGB, no BGR -> RGB pass), DCT scaling, and only the rows and columns a caller asks
// for (jpeg_skip_scanlines / jpeg_crop_scanline). Same library, same settings as OpenCV's
// imdecode (ISLOW DCT, fancy upsampling), so the pixels are those decodeRgb gives
// (tests/core/test_jpeg_window.cpp checks it on real photos).

#include <cstdint>
#include <functional>
#include <opencv2/core/mat.hpp>
#include <optional>
#include <string_view>

namespace vitrine::core::image {

struct JpegWindow {
    cv::Mat rgb;               ///< CV_8UC3 RGB; at least the rectangle asked for
    int width = 0, height = 0; ///< the whole (DCT-scaled) image
    int x = 0, y = 0;          ///< where rgb's top-left pixel lies in the whole image
};

/// Decodes `bytes` (a complete JPEG) at scale 1/`scaleDenom` (1, 2, 4 or 8). `window` gets the
/// scaled image size and returns the rectangle needed (clipped to the image). Returns nullopt
/// for colour spaces this path leaves to OpenCV (CMYK, YCCK). Throws std::runtime_error(reason)
/// when libjpeg refuses the data or the image has more than `maxPixels` pixels.
std::optional<JpegWindow> decodeJpegWindow(std::string_view bytes, int scaleDenom, std::int64_t maxPixels,
                                           const std::function<cv::Rect(int width, int height)>& window);

} // namespace vitrine::core::image
