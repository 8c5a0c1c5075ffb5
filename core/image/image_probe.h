#pragma once
// Reads an image's format and size from its header bytes without decoding it, so
// oversized images are refused before any large allocation, and checks the
// container's structure (truncated JPEG/PNG) cheaply. Pure byte parsing: this is
// one of the fuzz targets.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vitrine::core::image {

enum class Format { Unknown, Jpeg, Png, WebP, Bmp, Tiff, Gif };

const char* formatName(Format f);

struct ImageProbe {
    Format format = Format::Unknown;
    std::int64_t width = 0;
    std::int64_t height = 0;
    int exifOrientation = 1; ///< 1..8, JPEG only; 1 when absent
    bool complete = true;    ///< false when the data ends before the container does
};

/// Parses `bytes` (the whole file, or at least its first kilobytes when
/// `wholeFile` is false). Returns nullopt with `why` set when the bytes are not a
/// supported image (e.g. "starts with '<html>'", "bad PNG header").
std::optional<ImageProbe> probeImage(std::string_view bytes, bool wholeFile, std::string* why);

/// True when the file name's extension is one Vitrine decodes.
bool hasImageExtension(std::string_view filename);

} // namespace vitrine::core::image
