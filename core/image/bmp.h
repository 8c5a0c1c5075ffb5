#pragma once
// Windows/OS2 bitmaps: the header parser the probe uses and the decoder built on it, so
// the two cannot disagree. Covers what other programs write: core (OS/2 1.x), OS/2 2.x,
// BITMAPINFOHEADER and its V2-V5 extensions; 1/4/8/16/24/32 bits per pixel; BI_RGB,
// RLE8, RLE4, BI_BITFIELDS and BI_ALPHABITFIELDS; bottom-up and top-down rows.
// bfSize and biSizeImage are ignored: writers fill them in inconsistently (OpenCV
// writes biSizeImage = 0), and no reader needs them.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include <opencv2/core/mat.hpp>

#include "core/image/image_probe.h"

namespace vitrine::core::image::bmp {

struct Header {
    std::int64_t width = 0;
    std::int64_t height = 0; ///< always positive; topDown says the row order
    bool topDown = false;
    int bitsPerPixel = 0;
    int compression = 0; ///< 0 BI_RGB, 1 RLE8, 2 RLE4, 3 BITFIELDS, 6 ALPHABITFIELDS
    std::uint32_t dataOffset = 0;
    std::array<std::uint32_t, 3> masks{}; ///< red, green, blue (16/32-bit)
    int paletteOffset = 0;
    int paletteEntries = 0;
    int paletteEntrySize = 4; ///< 3 for the OS/2 1.x core header
    bool complete = true;     ///< uncompressed rows all present (RLE: judged when decoding)
};

/// Parses the headers. On failure returns false with `why` and `refusal` set.
bool parseHeader(std::string_view bytes, bool wholeFile, Header& out, std::string& why, Refusal& refusal);

/// Decodes to CV_8UC3 RGB. Throws std::runtime_error(reason) on bad data.
cv::Mat decode(std::string_view bytes);

} // namespace vitrine::core::image::bmp
