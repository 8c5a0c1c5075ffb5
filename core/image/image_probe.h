#pragma once
// Reads an image's format and size from its header bytes without decoding it, so
// oversized images are refused before any large allocation, and checks the
// container's structure (truncated JPEG/PNG/BMP/TIFF/WebP/GIF/HEIF/JPEG XL) cheaply.
// Pure byte parsing: this is one of the fuzz targets.
//
// The contract, checked over tests/fixtures/formats/ and by fuzz_image: the probe never
// refuses a file that its format's decoder reads (it may accept a file whose compressed
// data turns out corrupt: only decoding can tell).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vitrine::core::image {

enum class Format { Unknown, Jpeg, Png, WebP, Bmp, Tiff, Gif, Heif, Avif, Jxl };

const char* formatName(Format f);

/// The format named by the file's first bytes (its signature), or Unknown. Says nothing
/// about whether the rest is valid.
Format sniffFormat(std::string_view bytes);

/// Why a probe refused a file; the decoder refuses the same files for the same reasons.
enum class Refusal {
    None,
    NotImage,    ///< empty, text, or an unknown signature
    Corrupt,     ///< the header is malformed
    Unsupported, ///< a valid file of a variant no decoder here reads (12-bit JPEG, ...)
    Truncated,   ///< the file ends before its image data does
};

struct ImageProbe {
    Format format = Format::Unknown;
    std::int64_t width = 0; ///< as stored (before EXIF orientation)
    std::int64_t height = 0;
    /// False when the header that holds the size lies beyond the bytes given (a TIFF
    /// whose directory is at the end, read from its first kilobytes): the size is then
    /// checked when the file is decoded.
    bool sizeKnown = true;
    int exifOrientation = 1; ///< 1..8 (JPEG APP1, TIFF tag 274); 1 when absent
    bool complete = true;    ///< false when the data ends before the container does
};

/// Parses `bytes` (the whole file, or at least its first kilobytes when
/// `wholeFile` is false: completeness is then not judged). Returns nullopt with `why`
/// set when the bytes are not a supported image (e.g. "starts with '<html>'", "corrupt
/// PNG (missing or bad IHDR header)"), and `refusal` (optional) saying which kind.
std::optional<ImageProbe> probeImage(std::string_view bytes, bool wholeFile, std::string* why,
                                     Refusal* refusal = nullptr);

/// True when the file name's extension is one Vitrine decodes.
bool hasImageExtension(std::string_view filename);

} // namespace vitrine::core::image
