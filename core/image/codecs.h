#pragma once
// One decoder per format, each reading the bytes with the library made for it: OpenCV
// (libjpeg-turbo, libpng, libtiff) for JPEG, PNG and TIFF; libwebp for WebP (animated:
// first frame); giflib for GIF (first frame); libheif for HEIC/HEIF and AVIF; libjxl for
// JPEG XL; Vitrine's own reader for BMP (core/image/bmp.h). Each applies `maxPixels` from
// the size its library reads from the header, before any pixel is decoded.
//
// Callers go through decodeRgb (decode.h), which probes the header first. The fuzz target
// calls this directly to check that the probe never refuses what a library reads.

#include <cstdint>
#include <string>
#include <string_view>

#include <opencv2/core/mat.hpp>

#include "core/image/image_probe.h"

namespace vitrine::core::image {

struct LibraryDecodeOptions {
    std::int64_t maxPixels = 64'000'000;
    int opencvFlags = 0; ///< cv::imread flags for the OpenCV formats (DCT scaling for JPEG)
};

/// Decodes `bytes` of format `format` to CV_8UC3 RGB (alpha dropped, 16-bit reduced to 8).
/// Orientation: libheif, libjxl and libtiff apply the file's own; a JPEG's EXIF
/// orientation is left to the caller. Throws std::runtime_error(reason) when the library refuses.
cv::Mat decodeWithLibrary(Format format, std::string_view bytes, const LibraryDecodeOptions& options);

/// The library versions compiled in, for `vitrine-cli info` and bug reports.
std::string codecVersions();

} // namespace vitrine::core::image
