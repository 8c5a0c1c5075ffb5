#include "core/image/image_probe.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

namespace vitrine::core::image {
namespace {

std::uint32_t be32(const unsigned char* p) {
    return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}
std::uint16_t be16(const unsigned char* p) { return std::uint16_t((p[0] << 8) | p[1]); }
std::uint32_t le32(const unsigned char* p) {
    return std::uint32_t(p[0]) | (std::uint32_t(p[1]) << 8) | (std::uint32_t(p[2]) << 16) | (std::uint32_t(p[3]) << 24);
}
std::uint16_t le16(const unsigned char* p) { return std::uint16_t(p[0] | (p[1] << 8)); }

bool startsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::string describeStart(std::string_view bytes) {
    std::string_view head = bytes.substr(0, 16);
    bool printable = std::all_of(head.begin(), head.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return std::isprint(u) || std::isspace(u);
    });
    if (printable) {
        std::string s;
        for (char c : head.substr(0, 12))
            s += std::isspace(static_cast<unsigned char>(c)) ? ' ' : c;
        while (!s.empty() && s.back() == ' ')
            s.pop_back();
        return "not an image (it is text starting with '" + s + "')";
    }
    return "not an image (unrecognised format)";
}

// Reads the EXIF orientation from an APP1 segment's payload.
int exifOrientation(const unsigned char* p, std::size_t n) {
    if (n < 14 || std::memcmp(p, "Exif\0\0", 6) != 0)
        return 1;
    p += 6;
    n -= 6;
    bool little = p[0] == 'I' && p[1] == 'I';
    if (!little && !(p[0] == 'M' && p[1] == 'M'))
        return 1;
    auto r16 = [&](std::size_t off) { return little ? le16(p + off) : be16(p + off); };
    auto r32 = [&](std::size_t off) { return little ? le32(p + off) : be32(p + off); };
    std::uint32_t ifd = r32(4);
    if (ifd > n || n - ifd < 2)
        return 1;
    std::uint16_t count = r16(ifd);
    for (std::uint32_t i = 0; i < count; ++i) {
        std::size_t e = std::size_t(ifd) + 2 + std::size_t(i) * 12;
        if (e + 12 > n)
            break;
        if (r16(e) == 0x0112) {
            int v = r16(e + 8);
            return (v >= 1 && v <= 8) ? v : 1;
        }
    }
    return 1;
}

std::optional<ImageProbe> probeJpeg(std::string_view bytes, bool wholeFile, std::string* why) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    ImageProbe r;
    r.format = Format::Jpeg;
    std::size_t i = 2;
    bool haveSize = false;
    while (i + 4 <= n) {
        if (p[i] != 0xFF) {
            *why = "corrupt JPEG (bad marker)";
            return std::nullopt;
        }
        unsigned char m = p[i + 1];
        if (m == 0xFF) { // fill byte
            ++i;
            continue;
        }
        if (m == 0xD8 || (m >= 0xD0 && m <= 0xD7) || m == 0x01) {
            i += 2;
            continue;
        }
        if (m == 0xD9)
            break;
        std::size_t len = be16(p + i + 2);
        if (len < 2) {
            *why = "corrupt JPEG (bad segment length)";
            return std::nullopt;
        }
        const unsigned char* seg = p + i + 4;
        std::size_t segLen = len - 2;
        if (i + 2 + len > n) {
            r.complete = false;
            break;
        }
        if (m == 0xE1 && !haveSize)
            r.exifOrientation = exifOrientation(seg, segLen);
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            if (segLen < 5) {
                *why = "corrupt JPEG (short frame header)";
                return std::nullopt;
            }
            r.height = be16(seg + 1);
            r.width = be16(seg + 3);
            haveSize = true;
        }
        i += 2 + len;
        if (m == 0xDA) {
            if (!wholeFile)
                break;
            // Entropy-coded data: scan to the next real marker.
            bool found = false;
            while (i + 1 < n) {
                if (p[i] == 0xFF && p[i + 1] != 0x00 && !(p[i + 1] >= 0xD0 && p[i + 1] <= 0xD7) && p[i + 1] != 0xFF) {
                    found = true;
                    break;
                }
                ++i;
            }
            if (!found) {
                r.complete = false;
                break;
            }
            if (p[i + 1] == 0xD9) {
                i += 2;
                goto done;
            }
        }
    }
    if (wholeFile && !(i + 2 <= n && p[i] == 0xFF && p[i + 1] == 0xD9))
        r.complete = false;
done:
    if (!haveSize) {
        *why = r.complete ? "corrupt JPEG (no frame header)" : "truncated JPEG (the file ends before the image data)";
        return std::nullopt;
    }
    if (r.width == 0 || r.height == 0) {
        *why = "corrupt JPEG (zero width or height)";
        return std::nullopt;
    }
    return r;
}

std::optional<ImageProbe> probePng(std::string_view bytes, bool wholeFile, std::string* why) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    if (n < 33 || std::memcmp(p + 12, "IHDR", 4) != 0 || be32(p + 8) != 13) {
        *why = "corrupt PNG (missing or bad IHDR header)";
        return std::nullopt;
    }
    ImageProbe r;
    r.format = Format::Png;
    r.width = be32(p + 16);
    r.height = be32(p + 20);
    unsigned depth = p[24], colour = p[25];
    static constexpr std::array<unsigned, 5> kDepths{1, 2, 4, 8, 16};
    if (r.width == 0 || r.height == 0 || r.width > 0x7FFFFFFF || r.height > 0x7FFFFFFF ||
        std::find(kDepths.begin(), kDepths.end(), depth) == kDepths.end() ||
        !(colour == 0 || colour == 2 || colour == 3 || colour == 4 || colour == 6)) {
        *why = "corrupt PNG (invalid IHDR values)";
        return std::nullopt;
    }
    if (wholeFile) {
        std::size_t i = 8;
        bool sawEnd = false, sawData = false;
        while (i + 12 <= n) {
            std::size_t len = be32(p + i);
            if (len > 0x7FFFFFFF || i + 12 + len > n)
                break;
            if (std::memcmp(p + i + 4, "IDAT", 4) == 0)
                sawData = true;
            if (std::memcmp(p + i + 4, "IEND", 4) == 0) {
                sawEnd = true;
                break;
            }
            i += 12 + len;
        }
        r.complete = sawEnd && sawData;
    }
    return r;
}

std::optional<ImageProbe> probeWebp(std::string_view bytes, std::string* why) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    ImageProbe r;
    r.format = Format::WebP;
    if (n >= 30 && std::memcmp(p + 12, "VP8 ", 4) == 0) {
        r.width = le16(p + 26) & 0x3FFF;
        r.height = le16(p + 28) & 0x3FFF;
    } else if (n >= 25 && std::memcmp(p + 12, "VP8L", 4) == 0) {
        std::uint32_t b = le32(p + 21);
        r.width = (b & 0x3FFF) + 1;
        r.height = ((b >> 14) & 0x3FFF) + 1;
    } else if (n >= 30 && std::memcmp(p + 12, "VP8X", 4) == 0) {
        r.width = 1 + (p[24] | (p[25] << 8) | (p[26] << 16));
        r.height = 1 + (p[27] | (p[28] << 8) | (p[29] << 16));
    } else {
        *why = "corrupt WebP (unknown chunk)";
        return std::nullopt;
    }
    std::size_t riff = le32(p + 4);
    r.complete = riff + 8 <= n;
    if (r.width == 0 || r.height == 0) {
        *why = "corrupt WebP (zero size)";
        return std::nullopt;
    }
    return r;
}

std::optional<ImageProbe> probeBmp(std::string_view bytes, std::string* why) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    if (bytes.size() < 26) {
        *why = "corrupt BMP (short header)";
        return std::nullopt;
    }
    ImageProbe r;
    r.format = Format::Bmp;
    std::uint32_t hdr = le32(p + 14);
    if (hdr == 12) {
        r.width = le16(p + 18);
        r.height = le16(p + 20);
    } else {
        r.width = static_cast<std::int32_t>(le32(p + 18));
        auto h = static_cast<std::int32_t>(le32(p + 22));
        r.height = h < 0 ? -static_cast<std::int64_t>(h) : h;
    }
    if (r.width <= 0 || r.height <= 0) {
        *why = "corrupt BMP (invalid size)";
        return std::nullopt;
    }
    r.complete = le32(p + 2) <= bytes.size() || le32(p + 2) == 0;
    return r;
}

std::optional<ImageProbe> probeTiff(std::string_view bytes, std::string* why) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    bool little = p[0] == 'I';
    auto r16 = [&](std::size_t o) { return little ? le16(p + o) : be16(p + o); };
    auto r32 = [&](std::size_t o) { return little ? le32(p + o) : be32(p + o); };
    ImageProbe r;
    r.format = Format::Tiff;
    std::uint32_t ifd = r32(4);
    if (ifd < 8 || ifd > n || n - ifd < 2) {
        *why = "corrupt TIFF (bad directory offset)";
        return std::nullopt;
    }
    std::uint16_t count = r16(ifd);
    for (std::uint32_t i = 0; i < count; ++i) {
        std::size_t e = std::size_t(ifd) + 2 + std::size_t(i) * 12;
        if (e + 12 > n)
            break;
        std::uint16_t tag = r16(e), type = r16(e + 2);
        std::uint32_t v = type == 3 ? r16(e + 8) : r32(e + 8);
        if (tag == 256)
            r.width = v;
        else if (tag == 257)
            r.height = v;
        else if (tag == 274 && v >= 1 && v <= 8)
            r.exifOrientation = static_cast<int>(v);
    }
    if (r.width == 0 || r.height == 0) {
        *why = "corrupt TIFF (no image size)";
        return std::nullopt;
    }
    return r;
}

} // namespace

const char* formatName(Format f) {
    switch (f) {
    case Format::Jpeg: return "JPEG";
    case Format::Png: return "PNG";
    case Format::WebP: return "WebP";
    case Format::Bmp: return "BMP";
    case Format::Tiff: return "TIFF";
    case Format::Gif: return "GIF";
    case Format::Unknown: break;
    }
    return "unknown";
}

std::optional<ImageProbe> probeImage(std::string_view bytes, bool wholeFile, std::string* why) {
    std::string scratch;
    if (!why)
        why = &scratch;
    if (bytes.empty()) {
        *why = "empty file (0 bytes)";
        return std::nullopt;
    }
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF)
        return probeJpeg(bytes, wholeFile, why);
    if (startsWith(bytes, "\x89PNG\r\n\x1a\n"))
        return probePng(bytes, wholeFile, why);
    if (n >= 16 && startsWith(bytes, "RIFF") && bytes.substr(8, 4) == "WEBP")
        return probeWebp(bytes, why);
    if (startsWith(bytes, "BM"))
        return probeBmp(bytes, why);
    if (n >= 8 && (startsWith(bytes, std::string_view("II*\0", 4)) || startsWith(bytes, std::string_view("MM\0*", 4))))
        return probeTiff(bytes, why);
    if (startsWith(bytes, "GIF8")) {
        *why = "GIF is not supported (convert it to PNG)";
        return std::nullopt;
    }
    if (n < 8) {
        *why = "not an image (only " + std::to_string(n) + " bytes)";
        return std::nullopt;
    }
    *why = describeStart(bytes);
    return std::nullopt;
}

bool hasImageExtension(std::string_view filename) {
    auto dot = filename.rfind('.');
    if (dot == std::string_view::npos)
        return false;
    std::string ext(filename.substr(dot + 1));
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    static constexpr std::array<std::string_view, 9> kExts{"jpg", "jpeg", "jpe", "png", "webp", "bmp", "tif", "tiff", "dib"};
    return std::find(kExts.begin(), kExts.end(), ext) != kExts.end();
}

} // namespace vitrine::core::image
