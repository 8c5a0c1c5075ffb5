#include "core/image/image_probe.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <vector>

#include "core/image/bmp.h"

namespace vitrine::core::image {
namespace {

std::uint32_t be32(const unsigned char* p) {
    return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}
std::uint64_t be64(const unsigned char* p) { return (std::uint64_t(be32(p)) << 32) | be32(p + 4); }
std::uint16_t be16(const unsigned char* p) { return std::uint16_t((p[0] << 8) | p[1]); }
std::uint32_t le32(const unsigned char* p) {
    return std::uint32_t(p[0]) | (std::uint32_t(p[1]) << 8) | (std::uint32_t(p[2]) << 16) | (std::uint32_t(p[3]) << 24);
}
std::uint64_t le64(const unsigned char* p) { return std::uint64_t(le32(p)) | (std::uint64_t(le32(p + 4)) << 32); }
std::uint16_t le16(const unsigned char* p) { return std::uint16_t(p[0] | (p[1] << 8)); }

bool startsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

/// Where a probe reports its verdict.
struct Verdict {
    std::string* why;
    Refusal* refusal;
    std::nullopt_t fail(Refusal kind, std::string message) const {
        *why = std::move(message);
        *refusal = kind;
        return std::nullopt;
    }
};

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

std::optional<ImageProbe> probeJpeg(std::string_view bytes, bool wholeFile, const Verdict& v) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    ImageProbe r;
    r.format = Format::Jpeg;
    std::size_t i = 2;
    bool haveSize = false, sawScan = false;
    while (i + 4 <= n) {
        if (p[i] != 0xFF) {
            // libjpeg skips stray bytes before a marker (with a warning), so must we.
            ++i;
            continue;
        }
        unsigned char m = p[i + 1];
        if (m == 0xFF) { // fill byte
            ++i;
            continue;
        }
        if (m == 0xD8 || (m >= 0xD0 && m <= 0xD7) || m == 0x01 || m == 0x00) {
            i += 2;
            continue;
        }
        if (m == 0xD9)
            break;
        std::size_t len = be16(p + i + 2);
        if (len < 2 && ((m >= 0xE0 && m <= 0xEF) || m == 0xFE))
            len = 2; // libjpeg skips an APPn/COM segment with a bogus length as if empty
        if (len < 2) {
            // After image data, libjpeg has what it needs and ignores what follows.
            if (haveSize && sawScan)
                goto done;
            return v.fail(Refusal::Corrupt, "corrupt JPEG (bad segment length)");
        }
        const unsigned char* seg = p + i + 4;
        std::size_t segLen = len - 2;
        if (i + 2 + len > n) {
            r.complete = false;
            break;
        }
        if (m == 0xE1 && !haveSize)
            r.exifOrientation = exifOrientation(seg, segLen);
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC && !haveSize) {
            if (segLen < 6)
                return v.fail(Refusal::Corrupt, "corrupt JPEG (short frame header)");
            if (m == 0xC3 || m == 0xCB)
                return v.fail(Refusal::Unsupported, "lossless JPEG (SOF" + std::to_string(m - 0xC0) +
                                                        ") is not supported (convert it to PNG)");
            if ((m >= 0xC5 && m <= 0xC7) || m >= 0xCD)
                return v.fail(Refusal::Unsupported, "hierarchical JPEG (SOF" + std::to_string(m - 0xC0) +
                                                        ") is not supported (convert it to PNG)");
            if (seg[0] != 8)
                return v.fail(Refusal::Unsupported, std::to_string(seg[0]) +
                                                        "-bit JPEG is not supported: only 8-bit JPEGs are "
                                                        "(convert it to PNG, e.g. with ImageMagick or GIMP)");
            r.height = be16(seg + 1);
            r.width = be16(seg + 3);
            haveSize = true;
        }
        i += 2 + len;
        if (m == 0xDA) {
            sawScan = true;
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
    if (!wholeFile)
        r.complete = true;
    if (!haveSize && !wholeFile) {
        // Large EXIF/ICC segments can push the frame header past the bytes read.
        r.sizeKnown = false;
        return r;
    }
    if (!haveSize) {
        if (r.complete && wholeFile)
            return v.fail(Refusal::Corrupt, "corrupt JPEG (no frame header)");
        return v.fail(Refusal::Truncated, "truncated JPEG (the file ends before the image data)");
    }
    if (r.width == 0 || r.height == 0)
        return v.fail(Refusal::Corrupt, "corrupt JPEG (zero width or height)");
    return r;
}

std::optional<ImageProbe> probePng(std::string_view bytes, bool wholeFile, const Verdict& v) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    if (n < 33 || std::memcmp(p + 12, "IHDR", 4) != 0 || be32(p + 8) != 13)
        return v.fail(n < 33 ? Refusal::Truncated : Refusal::Corrupt, "corrupt PNG (missing or bad IHDR header)");
    ImageProbe r;
    r.format = Format::Png;
    r.width = be32(p + 16);
    r.height = be32(p + 20);
    const unsigned depth = p[24], colour = p[25];
    // The combinations PNG allows (libpng refuses the others).
    const bool depthOk = colour == 0   ? (depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16)
                         : colour == 3 ? (depth == 1 || depth == 2 || depth == 4 || depth == 8)
                         : (colour == 2 || colour == 4 || colour == 6) ? (depth == 8 || depth == 16)
                                                                       : false;
    if (r.width == 0 || r.height == 0 || r.width > 0x7FFFFFFF || r.height > 0x7FFFFFFF || !depthOk)
        return v.fail(Refusal::Corrupt, "corrupt PNG (invalid IHDR values)");
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

std::optional<ImageProbe> probeWebp(std::string_view bytes, bool wholeFile, const Verdict& v) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    ImageProbe r;
    r.format = Format::WebP;
    if (n >= 30 && std::memcmp(p + 12, "VP8 ", 4) == 0) {
        if (!(p[23] == 0x9d && p[24] == 0x01 && p[25] == 0x2a))
            return v.fail(Refusal::Corrupt, "corrupt WebP (bad VP8 start code)");
        r.width = le16(p + 26) & 0x3FFF;
        r.height = le16(p + 28) & 0x3FFF;
    } else if (n >= 25 && std::memcmp(p + 12, "VP8L", 4) == 0) {
        if (p[20] != 0x2f)
            return v.fail(Refusal::Corrupt, "corrupt WebP (bad VP8L signature)");
        std::uint32_t b = le32(p + 21);
        r.width = (b & 0x3FFF) + 1;
        r.height = ((b >> 14) & 0x3FFF) + 1;
    } else if (n >= 30 && std::memcmp(p + 12, "VP8X", 4) == 0) {
        r.width = 1 + (p[24] | (p[25] << 8) | (p[26] << 16));
        r.height = 1 + (p[27] | (p[28] << 8) | (p[29] << 16));
    } else if (n < 30) {
        return v.fail(Refusal::Truncated, "truncated WebP (the file ends inside its header)");
    } else {
        return v.fail(Refusal::Corrupt, "corrupt WebP (unknown chunk)");
    }
    if (wholeFile)
        r.complete = std::uint64_t(le32(p + 4)) + 8 <= n;
    if (r.width == 0 || r.height == 0)
        return v.fail(Refusal::Corrupt, "corrupt WebP (zero size)");
    return r;
}

std::optional<ImageProbe> probeBmp(std::string_view bytes, bool wholeFile, const Verdict& v) {
    bmp::Header h;
    std::string why;
    Refusal refusal = Refusal::None;
    if (!bmp::parseHeader(bytes, wholeFile, h, why, refusal))
        return v.fail(refusal, why);
    ImageProbe r;
    r.format = Format::Bmp;
    r.width = h.width;
    r.height = h.height;
    r.complete = h.complete;
    return r;
}

std::optional<ImageProbe> probeTiff(std::string_view bytes, bool wholeFile, const Verdict& v) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    const bool little = p[0] == 'I';
    auto r16 = [&](std::size_t o) -> std::uint64_t { return little ? le16(p + o) : be16(p + o); };
    auto r32 = [&](std::size_t o) -> std::uint64_t { return little ? le32(p + o) : be32(p + o); };
    auto r64 = [&](std::size_t o) -> std::uint64_t { return little ? le64(p + o) : be64(p + o); };
    const bool big = r16(2) == 43; // BigTIFF: 64-bit offsets and counts
    if (big && n < 16)
        return v.fail(Refusal::Truncated, "truncated TIFF (the file ends inside its header)");
    ImageProbe r;
    r.format = Format::Tiff;
    const std::uint64_t ifd = big ? r64(8) : r32(4);
    const std::size_t countSize = big ? 8 : 2, entrySize = big ? 20 : 12, valueAt = big ? 12 : 8,
                      valueSize = big ? 8 : 4;
    if (ifd < (big ? 16u : 8u))
        return v.fail(Refusal::Corrupt, "corrupt TIFF (bad directory offset)");
    auto sizeUnknown = [&]() -> std::optional<ImageProbe> {
        r.sizeKnown = false;
        return r;
    };
    if (ifd > n || n - ifd < countSize) {
        if (!wholeFile)
            return sizeUnknown(); // the directory is further on (Pillow writes it at the end)
        return v.fail(Refusal::Truncated, "truncated TIFF (its directory lies beyond the end of the file)");
    }
    const std::uint64_t count = big ? r64(ifd) : r16(ifd);
    if (count > 4096)
        return v.fail(Refusal::Corrupt, "corrupt TIFF (" + std::to_string(count) + " directory entries)");
    auto typeSize = [](std::uint64_t type) -> std::size_t {
        switch (type) {
        case 1:
        case 2:
        case 6:
        case 7: return 1;
        case 3:
        case 8: return 2;
        case 4:
        case 9:
        case 11: return 4;
        case 5:
        case 10:
        case 12:
        case 16:
        case 17:
        case 18: return 8;
        default: return 0;
        }
    };
    // The byte ranges of the strips or tiles: [offsets tag, counts tag] -> entry positions.
    std::size_t offsetsEntry = 0, countsEntry = 0;
    bool entriesCut = false;
    for (std::uint64_t k = 0; k < count; ++k) {
        const std::size_t e = std::size_t(ifd) + countSize + std::size_t(k) * entrySize;
        if (e + entrySize > n) {
            entriesCut = true;
            break;
        }
        const std::uint64_t tag = r16(e), type = r16(e + 2);
        const std::uint64_t value = type == 3 ? r16(e + valueAt)
                                              : (big && type == 16 ? r64(e + valueAt) : r32(e + valueAt));
        if (tag == 256)
            r.width = static_cast<std::int64_t>(value);
        else if (tag == 257)
            r.height = static_cast<std::int64_t>(value);
        else if (tag == 274 && value >= 1 && value <= 8)
            r.exifOrientation = static_cast<int>(value);
        else if ((tag == 273 || tag == 324) && typeSize(type))
            offsetsEntry = e;
        else if ((tag == 279 || tag == 325) && typeSize(type))
            countsEntry = e;
    }
    if (entriesCut && !wholeFile && (r.width == 0 || r.height == 0))
        return sizeUnknown();
    if (entriesCut)
        r.complete = false;
    if (r.width <= 0 || r.height <= 0 || r.width > 0xFFFFFFFFLL || r.height > 0xFFFFFFFFLL) {
        if (entriesCut)
            return v.fail(Refusal::Truncated, "truncated TIFF (the file ends inside its directory)");
        return v.fail(Refusal::Corrupt, "corrupt TIFF (no image size)");
    }
    if (wholeFile && offsetsEntry && countsEntry) {
        // Every strip/tile must lie inside the file.
        auto values = [&](std::size_t e, std::size_t i, bool& ok) -> std::uint64_t {
            const std::uint64_t type = r16(e + 2), cnt = big ? r64(e + 4) : r32(e + 4);
            const std::size_t ts = typeSize(type);
            const bool inlineValues = cnt * ts <= valueSize;
            const std::uint64_t base = inlineValues ? e + valueAt : (big ? r64(e + valueAt) : r32(e + valueAt));
            const std::uint64_t at = base + std::uint64_t(i) * ts;
            if (i >= cnt || at + ts > n) {
                ok = false;
                return 0;
            }
            return ts == 2 ? r16(at) : ts == 8 ? r64(at) : ts == 4 ? r32(at) : p[at];
        };
        const std::uint64_t pieces = big ? r64(offsetsEntry + 4) : r32(offsetsEntry + 4);
        for (std::uint64_t i = 0; i < pieces && r.complete; ++i) {
            bool ok = true;
            const std::uint64_t off = values(offsetsEntry, i, ok), len = values(countsEntry, i, ok);
            if (!ok || off > n || len > n - off)
                r.complete = false;
        }
    }
    return r;
}

std::optional<ImageProbe> probeGif(std::string_view bytes, bool wholeFile, const Verdict& v) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    if (n < 13)
        return v.fail(Refusal::Truncated, "truncated GIF (the file ends inside its header)");
    ImageProbe r;
    r.format = Format::Gif;
    r.width = le16(p + 6);
    r.height = le16(p + 8);
    if (r.width == 0 || r.height == 0)
        return v.fail(Refusal::Corrupt, "corrupt GIF (zero width or height)");
    std::size_t i = 13;
    if (p[10] & 0x80)
        i += std::size_t(3) << ((p[10] & 7) + 1);
    auto skipSubBlocks = [&]() {
        while (i < n) {
            const std::size_t len = p[i++];
            if (len == 0)
                return true;
            i += len;
        }
        return false;
    };
    // Walk to the end of the first image (the frame Vitrine shows).
    while (true) {
        if (i >= n) {
            r.complete = !wholeFile;
            return r;
        }
        const unsigned char block = p[i];
        if (block == 0x21) {
            i += 2;
            if (!skipSubBlocks()) {
                r.complete = !wholeFile;
                return r;
            }
        } else if (block == 0x2C) {
            if (i + 11 > n) {
                r.complete = !wholeFile;
                return r;
            }
            const unsigned char packed = p[i + 9];
            i += 10;
            if (packed & 0x80)
                i += std::size_t(3) << ((packed & 7) + 1);
            i += 1; // LZW minimum code size
            r.complete = skipSubBlocks() || !wholeFile;
            return r;
        } else if (block == 0x3B) {
            return v.fail(Refusal::Corrupt, "corrupt GIF (it holds no image)");
        } else {
            return v.fail(Refusal::Corrupt, "corrupt GIF (unknown block)");
        }
    }
}

// ---- ISO base media file format (HEIF, AVIF, the JPEG XL container) ----

struct Box {
    std::uint32_t type = 0;
    std::size_t payload = 0; ///< offset of the payload
    std::uint64_t end = 0;   ///< offset one past the box (may exceed the bytes held)
};

constexpr std::uint32_t fourcc(const char (&s)[5]) {
    return (std::uint32_t(std::uint8_t(s[0])) << 24) | (std::uint32_t(std::uint8_t(s[1])) << 16) |
           (std::uint32_t(std::uint8_t(s[2])) << 8) | std::uint32_t(std::uint8_t(s[3]));
}

/// Reads the box header at `at` (within [at, limit)); false when it does not fit or is malformed.
bool readBox(const unsigned char* p, std::size_t n, std::size_t at, std::uint64_t limit, Box& box) {
    if (at + 8 > n || at + 8 > limit)
        return false;
    std::uint64_t size = be32(p + at);
    box.type = be32(p + at + 4);
    std::size_t header = 8;
    if (size == 1) {
        if (at + 16 > n)
            return false;
        size = be64(p + at + 8);
        header = 16;
    } else if (size == 0) {
        size = limit - at;
    }
    if (size < header)
        return false;
    box.payload = at + header;
    box.end = at + size;
    return true;
}

Format heifBrand(std::string_view bytes) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    if (n < 16 || be32(p + 4) != fourcc("ftyp"))
        return Format::Unknown;
    const std::size_t size = std::min<std::size_t>(be32(p), n);
    bool heif = false, avif = false;
    auto classify = [&](std::uint32_t b) {
        if (b == fourcc("avif") || b == fourcc("avis"))
            avif = true;
        else if (b == fourcc("heic") || b == fourcc("heix") || b == fourcc("heim") || b == fourcc("heis") ||
                 b == fourcc("hevc") || b == fourcc("hevx") || b == fourcc("hevm") || b == fourcc("hevs") ||
                 b == fourcc("mif1") || b == fourcc("msf1") || b == fourcc("mif2") || b == fourcc("miaf"))
            heif = true;
    };
    classify(be32(p + 8));
    if (be32(p + 8) == fourcc("avif") || be32(p + 8) == fourcc("avis"))
        return Format::Avif;
    for (std::size_t i = 16; i + 4 <= size; i += 4)
        classify(be32(p + i));
    return avif ? Format::Avif : heif ? Format::Heif : Format::Unknown;
}

std::optional<ImageProbe> probeHeif(std::string_view bytes, Format format, bool wholeFile, const Verdict& v) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    const std::string name = formatName(format);
    ImageProbe r;
    r.format = format;
    bool metaFound = false, metaCut = false;
    std::size_t at = 0;
    // Top level: ftyp, meta, mdat, ...; the walk must end at the end of the file.
    while (at < n) {
        Box box;
        if (!readBox(p, n, at, n, box)) {
            r.complete = false;
            break;
        }
        if (box.type == fourcc("meta") && !metaFound) { // readers use the first
            metaFound = true;
            metaCut = box.end > n;
            const std::uint64_t metaEnd = std::min<std::uint64_t>(box.end, n);
            std::uint32_t primary = 0;
            bool havePrimary = false;
            std::vector<std::pair<std::uint32_t, std::array<std::int64_t, 2>>> ispe; // ipco index -> size
            std::vector<std::pair<std::uint32_t, std::vector<std::uint32_t>>> assoc; // item -> ipco indices
            std::size_t child = box.payload + 4;                                     // meta is a FullBox
            while (child < metaEnd) {
                Box c;
                if (!readBox(p, n, child, metaEnd, c))
                    break;
                const std::uint64_t cEnd = std::min<std::uint64_t>(c.end, metaEnd);
                if (c.type == fourcc("pitm") && c.payload + 6 <= cEnd) {
                    primary = p[c.payload] == 0 ? be16(p + c.payload + 4)
                                                : (c.payload + 8 <= cEnd ? be32(p + c.payload + 4) : 0);
                    havePrimary = true;
                } else if (c.type == fourcc("iprp")) {
                    std::size_t g = c.payload;
                    while (g < cEnd) {
                        Box gb;
                        if (!readBox(p, n, g, cEnd, gb))
                            break;
                        const std::uint64_t gEnd = std::min<std::uint64_t>(gb.end, cEnd);
                        if (gb.type == fourcc("ipco")) {
                            std::size_t q = gb.payload;
                            std::uint32_t index = 0;
                            while (q < gEnd) {
                                Box prop;
                                if (!readBox(p, n, q, gEnd, prop))
                                    break;
                                ++index;
                                if (prop.type == fourcc("ispe") && prop.payload + 12 <= gEnd)
                                    ispe.push_back({index, {be32(p + prop.payload + 4), be32(p + prop.payload + 8)}});
                                q = static_cast<std::size_t>(prop.end);
                            }
                        } else if (gb.type == fourcc("ipma") && gb.payload + 8 <= gEnd) {
                            const unsigned version = p[gb.payload];
                            const bool wide = p[gb.payload + 3] & 1;
                            std::uint64_t entries = be32(p + gb.payload + 4);
                            std::size_t q = gb.payload + 8;
                            for (; entries > 0; --entries) {
                                const std::size_t idSize = version < 1 ? 2 : 4;
                                if (q + idSize + 1 > gEnd)
                                    break;
                                const std::uint32_t item = idSize == 2 ? be16(p + q) : be32(p + q);
                                q += idSize;
                                unsigned links = p[q++];
                                std::vector<std::uint32_t> props;
                                for (; links > 0 && q + (wide ? 2 : 1) <= gEnd; --links) {
                                    props.push_back(wide ? (be16(p + q) & 0x7FFFu) : (p[q] & 0x7Fu));
                                    q += wide ? 2 : 1;
                                }
                                assoc.push_back({item, std::move(props)});
                            }
                        }
                        g = static_cast<std::size_t>(gb.end);
                    }
                }
                child = static_cast<std::size_t>(c.end);
            }
            // The primary item's size; without pitm/ipma, the first size given.
            bool sized = false;
            if (havePrimary)
                for (const auto& [item, props] : assoc)
                    if (item == primary)
                        for (auto idx : props)
                            for (const auto& [i, size] : ispe)
                                if (i == idx && !sized) {
                                    r.width = size[0];
                                    r.height = size[1];
                                    sized = true;
                                }
            if (!sized && !ispe.empty()) {
                r.width = ispe.front().second[0];
                r.height = ispe.front().second[1];
                sized = true;
            }
            if (!sized) {
                if (metaCut && !wholeFile) {
                    r.sizeKnown = false;
                    return r;
                }
                if (metaCut)
                    return v.fail(Refusal::Truncated, "truncated " + name + " (the file ends inside its header)");
                return v.fail(Refusal::Corrupt, "corrupt " + name + " (no image size in its header)");
            }
        }
        if (box.end > n) {
            r.complete = false;
            break;
        }
        at = static_cast<std::size_t>(box.end);
    }
    if (!metaFound) {
        if (!wholeFile || !r.complete) {
            if (wholeFile)
                return v.fail(Refusal::Truncated, "truncated " + name + " (the file ends before its header does)");
            r.sizeKnown = false;
            return r;
        }
        return v.fail(Refusal::Corrupt, "corrupt " + name + " (no 'meta' box)");
    }
    if (!wholeFile)
        r.complete = true;
    if (r.width <= 0 || r.height <= 0)
        return v.fail(Refusal::Corrupt, "corrupt " + name + " (zero width or height)");
    return r;
}

// ---- JPEG XL ----

class BitReader {
public:
    BitReader(const unsigned char* p, std::size_t n) : m_p(p), m_n(n) {}
    std::uint32_t bits(int count) {
        std::uint32_t v = 0;
        for (int k = 0; k < count; ++k) {
            const std::size_t byte = m_pos >> 3;
            if (byte >= m_n) {
                m_overrun = true;
                return 0;
            }
            v |= std::uint32_t((m_p[byte] >> (m_pos & 7)) & 1) << k;
            ++m_pos;
        }
        return v;
    }
    bool overrun() const { return m_overrun; }

private:
    const unsigned char* m_p;
    std::size_t m_n;
    std::size_t m_pos = 0;
    bool m_overrun = false;
};

constexpr std::string_view kJxlContainer("\0\0\0\x0CJXL \r\n\x87\n", 12);

std::optional<ImageProbe> probeJxl(std::string_view bytes, bool wholeFile, const Verdict& v) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    ImageProbe r;
    r.format = Format::Jxl;
    std::size_t code = 0, codeEnd = n;
    if (startsWith(bytes, kJxlContainer)) {
        std::size_t at = 12;
        bool found = false;
        while (at < n) {
            Box box;
            if (!readBox(p, n, at, n, box)) {
                r.complete = false;
                break;
            }
            if (!found && (box.type == fourcc("jxlc") || box.type == fourcc("jxlp"))) {
                code = box.payload + (box.type == fourcc("jxlp") ? 4 : 0);
                codeEnd = static_cast<std::size_t>(std::min<std::uint64_t>(box.end, n));
                found = true;
            }
            if (box.end > n) {
                r.complete = false;
                break;
            }
            at = static_cast<std::size_t>(box.end);
        }
        if (!found || code + 2 > codeEnd) {
            if (!wholeFile) {
                r.sizeKnown = false;
                return r;
            }
            return v.fail(r.complete ? Refusal::Corrupt : Refusal::Truncated,
                          r.complete ? "corrupt JPEG XL (no codestream box)"
                                     : "truncated JPEG XL (the file ends before its image data)");
        }
    }
    if (!(p[code] == 0xFF && p[code + 1] == 0x0A))
        return v.fail(Refusal::Corrupt, "corrupt JPEG XL (bad codestream signature)");
    // SizeHeader (ISO/IEC 18181-1, A.4), bits least significant first.
    BitReader br(p + code + 2, codeEnd - code - 2);
    auto u32size = [&]() {
        static constexpr int kBits[4] = {9, 13, 18, 30};
        return std::int64_t(br.bits(kBits[br.bits(2)])) + 1;
    };
    const bool small = br.bits(1);
    r.height = small ? (std::int64_t(br.bits(5)) + 1) * 8 : u32size();
    const std::uint32_t ratio = br.bits(3);
    static constexpr std::int64_t kNum[8] = {0, 1, 12, 4, 3, 16, 5, 2}, kDen[8] = {1, 1, 10, 3, 2, 9, 4, 1};
    if (ratio == 0)
        r.width = small ? (std::int64_t(br.bits(5)) + 1) * 8 : u32size();
    else
        r.width = r.height * kNum[ratio] / kDen[ratio];
    if (br.overrun()) {
        if (!wholeFile) {
            r.sizeKnown = false;
            r.width = r.height = 0;
            return r;
        }
        return v.fail(Refusal::Truncated, "truncated JPEG XL (the file ends inside its header)");
    }
    if (!wholeFile)
        r.complete = true;
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
    case Format::Heif: return "HEIF";
    case Format::Avif: return "AVIF";
    case Format::Jxl: return "JPEG XL";
    case Format::Unknown: break;
    }
    return "unknown";
}

Format sniffFormat(std::string_view bytes) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF)
        return Format::Jpeg;
    if (startsWith(bytes, "\x89PNG\r\n\x1a\n"))
        return Format::Png;
    if (n >= 16 && startsWith(bytes, "RIFF") && bytes.substr(8, 4) == "WEBP")
        return Format::WebP;
    if (startsWith(bytes, "BM"))
        return Format::Bmp;
    if (n >= 8 && (startsWith(bytes, std::string_view("II*\0", 4)) || startsWith(bytes, std::string_view("MM\0*", 4)) ||
                   startsWith(bytes, std::string_view("II+\0", 4)) || startsWith(bytes, std::string_view("MM\0+", 4))))
        return Format::Tiff;
    if (startsWith(bytes, "GIF87a") || startsWith(bytes, "GIF89a"))
        return Format::Gif;
    if (n >= 2 && p[0] == 0xFF && p[1] == 0x0A)
        return Format::Jxl;
    if (startsWith(bytes, kJxlContainer))
        return Format::Jxl;
    return heifBrand(bytes);
}

std::optional<ImageProbe> probeImage(std::string_view bytes, bool wholeFile, std::string* why, Refusal* refusal) {
    std::string scratch;
    Refusal scratchRefusal = Refusal::None;
    const Verdict v{why ? why : &scratch, refusal ? refusal : &scratchRefusal};
    *v.refusal = Refusal::None;
    if (bytes.empty())
        return v.fail(Refusal::NotImage, "empty file (0 bytes)");
    switch (const Format f = sniffFormat(bytes)) {
    case Format::Jpeg: return probeJpeg(bytes, wholeFile, v);
    case Format::Png: return probePng(bytes, wholeFile, v);
    case Format::WebP: return probeWebp(bytes, wholeFile, v);
    case Format::Bmp: return probeBmp(bytes, wholeFile, v);
    case Format::Tiff: return probeTiff(bytes, wholeFile, v);
    case Format::Gif: return probeGif(bytes, wholeFile, v);
    case Format::Heif:
    case Format::Avif: return probeHeif(bytes, f, wholeFile, v);
    case Format::Jxl: return probeJxl(bytes, wholeFile, v);
    case Format::Unknown: break;
    }
    if (bytes.size() < 8)
        return v.fail(Refusal::NotImage, "not an image (only " + std::to_string(bytes.size()) + " bytes)");
    return v.fail(Refusal::NotImage, describeStart(bytes));
}

bool hasImageExtension(std::string_view filename) {
    auto dot = filename.rfind('.');
    if (dot == std::string_view::npos)
        return false;
    std::string ext(filename.substr(dot + 1));
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    static constexpr std::array<std::string_view, 15> kExts{"jpg",  "jpeg", "jpe",  "jfif", "png",
                                                            "apng", "webp", "bmp",  "dib",  "tif",
                                                            "tiff", "gif",  "heic", "heif", "avif"};
    return std::find(kExts.begin(), kExts.end(), ext) != kExts.end() || ext == "jxl" || ext == "hif";
}

} // namespace vitrine::core::image
