#include "core/image/bmp.h"

#include <algorithm>
#include <bit>
#include <stdexcept>
#include <vector>

namespace vitrine::core::image::bmp {
namespace {

std::uint32_t le32(const unsigned char* p) {
    return std::uint32_t(p[0]) | (std::uint32_t(p[1]) << 8) | (std::uint32_t(p[2]) << 16) | (std::uint32_t(p[3]) << 24);
}
std::uint16_t le16(const unsigned char* p) { return std::uint16_t(p[0] | (p[1] << 8)); }

bool contiguous(std::uint32_t mask) {
    if (mask == 0)
        return true;
    const std::uint32_t shifted = mask >> std::countr_zero(mask);
    return (shifted & (shifted + 1)) == 0;
}

/// One channel of a bit-field pixel, scaled to 0..255.
struct Channel {
    std::uint32_t mask = 0;
    int shift = 0;
    std::uint64_t max = 0;
    explicit Channel(std::uint32_t m) : mask(m) {
        if (m) {
            shift = std::countr_zero(m);
            max = std::uint64_t(m >> shift);
        }
    }
    unsigned char operator()(std::uint32_t v) const {
        if (!max)
            return 0;
        const std::uint64_t c = (v & mask) >> shift;
        return static_cast<unsigned char>((c * 255 + max / 2) / max);
    }
};

} // namespace

bool parseHeader(std::string_view bytes, bool wholeFile, Header& h, std::string& why, Refusal& refusal) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    auto fail = [&](Refusal kind, std::string message) {
        refusal = kind;
        why = std::move(message);
        return false;
    };
    if (n < 18 || p[0] != 'B' || p[1] != 'M')
        return fail(Refusal::Corrupt, "corrupt BMP (short header)");
    const std::uint32_t hs = le32(p + 14);
    std::uint32_t clrUsed = 0;
    if (hs == 12) {
        if (n < 26)
            return fail(Refusal::Corrupt, "corrupt BMP (short header)");
        h.width = le16(p + 18);
        h.height = le16(p + 20);
        h.bitsPerPixel = le16(p + 24);
        h.paletteEntrySize = 3;
    } else if (hs == 16 || (hs >= 40 && hs <= 65536)) {
        if (n < 14 + std::min<std::size_t>(hs, 40))
            return fail(Refusal::Corrupt, "corrupt BMP (short header)");
        h.width = static_cast<std::int32_t>(le32(p + 18));
        const auto height = static_cast<std::int32_t>(le32(p + 22));
        h.topDown = height < 0;
        h.height = height < 0 ? -std::int64_t(height) : height;
        h.bitsPerPixel = le16(p + 28);
        if (hs >= 40) {
            h.compression = static_cast<int>(le32(p + 30));
            clrUsed = le32(p + 46);
        }
        if (hs == 64 && (h.compression == 3 || h.compression == 4))
            return fail(Refusal::Unsupported,
                        "OS/2 BMP with Huffman or RLE24 compression is not supported (convert it to PNG)");
    } else {
        return fail(Refusal::Corrupt, "corrupt BMP (unknown header size " + std::to_string(hs) + ")");
    }
    if (h.width <= 0 || h.height <= 0)
        return fail(Refusal::Corrupt, "corrupt BMP (invalid size)");

    const int bpp = h.bitsPerPixel;
    const int c = h.compression;
    if (c == 4 || c == 5)
        return fail(Refusal::Unsupported, std::string("BMP with embedded ") + (c == 4 ? "JPEG" : "PNG") +
                                              " data is not supported (convert it to PNG)");
    const bool ok = (c == 0 && (bpp == 1 || bpp == 4 || bpp == 8 || bpp == 16 || bpp == 24 || bpp == 32)) ||
                    (c == 1 && bpp == 8) || (c == 2 && bpp == 4) || ((c == 3 || c == 6) && (bpp == 16 || bpp == 32));
    if (!ok)
        return fail(Refusal::Corrupt, "corrupt BMP (" + std::to_string(bpp) + " bits per pixel with compression " +
                                          std::to_string(c) + ")");

    std::size_t headerEnd = 14 + std::size_t(hs);
    if (c == 3 || c == 6) {
        // Masks sit inside a V2+ header, or right after a plain 40-byte one.
        std::size_t at = hs >= 52 ? 54 : headerEnd;
        if (n < at + 12)
            return fail(Refusal::Corrupt, "corrupt BMP (missing colour masks)");
        for (int i = 0; i < 3; ++i)
            h.masks[std::size_t(i)] = le32(p + at + 4 * std::size_t(i));
        if (hs < 52)
            headerEnd += c == 6 ? 16 : 12;
        const std::uint32_t limit = bpp == 16 ? 0xFFFFu : 0xFFFFFFFFu;
        for (auto m : h.masks)
            if (!contiguous(m) || (m & ~limit))
                return fail(Refusal::Corrupt, "corrupt BMP (invalid colour mask)");
    } else if (bpp == 16) {
        h.masks = {0x7C00, 0x03E0, 0x001F};
    } else if (bpp == 32) {
        h.masks = {0x00FF0000, 0x0000FF00, 0x000000FF};
    }
    if (bpp <= 8) {
        const std::uint32_t full = 1u << bpp;
        h.paletteOffset = static_cast<int>(headerEnd);
        h.paletteEntries = static_cast<int>(clrUsed == 0 || clrUsed > full ? full : clrUsed);
        headerEnd += std::size_t(h.paletteEntries) * std::size_t(h.paletteEntrySize);
    }
    h.dataOffset = le32(p + 10);
    if (h.dataOffset == 0)
        h.dataOffset = static_cast<std::uint32_t>(std::min<std::size_t>(headerEnd, 0xFFFFFFFFu));
    if (h.dataOffset < 14 + hs)
        return fail(Refusal::Corrupt, "corrupt BMP (pixel data offset inside the header)");
    if (bpp <= 8 && h.dataOffset > std::uint32_t(h.paletteOffset)) {
        // A palette shorter than declared ends where the pixels start.
        const std::int64_t room = (std::int64_t(h.dataOffset) - h.paletteOffset) / h.paletteEntrySize;
        h.paletteEntries = static_cast<int>(std::min<std::int64_t>(h.paletteEntries, room));
    }
    if (wholeFile) {
        if (c == 0 || c == 3 || c == 6) {
            const unsigned __int128 stride = ((unsigned __int128)(h.width) * unsigned(bpp) + 31) / 32 * 4;
            h.complete = (unsigned __int128)(h.dataOffset) + stride * (unsigned __int128)(h.height) <= n;
        } else {
            h.complete = h.dataOffset < n;
        }
        if (bpp <= 8 &&
            std::size_t(h.paletteOffset) + std::size_t(h.paletteEntries) * std::size_t(h.paletteEntrySize) > n)
            h.complete = false;
    }
    return true;
}

cv::Mat decode(std::string_view bytes) {
    Header h;
    std::string why;
    Refusal refusal = Refusal::None;
    if (!parseHeader(bytes, true, h, why, refusal))
        throw std::runtime_error(why);
    if (!h.complete)
        throw std::runtime_error("truncated BMP (the file ends before the image data does)");
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    const int w = static_cast<int>(h.width), ht = static_cast<int>(h.height);
    cv::Mat rgb(ht, w, CV_8UC3, cv::Scalar::all(0));

    std::array<std::array<unsigned char, 3>, 256> palette{};
    for (int i = 0; i < h.paletteEntries; ++i) {
        const unsigned char* e = p + h.paletteOffset + std::size_t(i) * std::size_t(h.paletteEntrySize);
        palette[std::size_t(i)] = {e[2], e[1], e[0]};
    }
    auto rowPtr = [&](int storedRow) { return rgb.ptr<unsigned char>(h.topDown ? storedRow : ht - 1 - storedRow); };

    if (h.compression == 1 || h.compression == 2) {
        // RLE8 / RLE4: runs, literal spans, end-of-line, end-of-bitmap and deltas. Pixels a
        // delta skips keep palette entry 0, as in other readers.
        std::vector<unsigned char> index(std::size_t(w) * std::size_t(ht), 0);
        const bool four = h.compression == 2;
        std::size_t i = h.dataOffset;
        std::int64_t x = 0, row = 0;
        auto put = [&](unsigned char v) {
            if (x < w && row < ht)
                index[std::size_t(row) * std::size_t(w) + std::size_t(x)] = v;
            ++x;
        };
        while (i + 1 < n && row < ht) {
            const unsigned count = p[i], value = p[i + 1];
            i += 2;
            if (count > 0) {
                for (unsigned k = 0; k < count && x < w; ++k)
                    put(four ? static_cast<unsigned char>(k % 2 ? value & 15 : value >> 4)
                             : static_cast<unsigned char>(value));
            } else if (value == 0) {
                x = 0;
                ++row;
            } else if (value == 1) {
                break;
            } else if (value == 2) {
                if (i + 1 >= n)
                    break;
                x += p[i];
                row += p[i + 1];
                i += 2;
            } else {
                const std::size_t span = four ? (value + 1) / 2 : value;
                if (i + span > n)
                    throw std::runtime_error("truncated BMP (RLE data ends inside a literal run)");
                for (unsigned k = 0; k < value; ++k)
                    put(four ? static_cast<unsigned char>(k % 2 ? p[i + k / 2] & 15 : p[i + k / 2] >> 4) : p[i + k]);
                i += span + (span & 1);
            }
        }
        for (int r = 0; r < ht; ++r) {
            unsigned char* out = rowPtr(r);
            const unsigned char* in = index.data() + std::size_t(r) * std::size_t(w);
            for (int c = 0; c < w; ++c)
                std::copy_n(palette[in[c]].data(), 3, out + 3 * c);
        }
        return rgb;
    }

    const int bpp = h.bitsPerPixel;
    const std::size_t stride = (std::size_t(w) * std::size_t(bpp) + 31) / 32 * 4;
    const Channel red(h.masks[0]), green(h.masks[1]), blue(h.masks[2]);
    for (int r = 0; r < ht; ++r) {
        const unsigned char* in = p + h.dataOffset + std::size_t(r) * stride;
        unsigned char* out = rowPtr(r);
        for (int c = 0; c < w; ++c) {
            unsigned char* o = out + 3 * c;
            switch (bpp) {
            case 1: std::copy_n(palette[(in[c >> 3] >> (7 - (c & 7))) & 1].data(), 3, o); break;
            case 4: std::copy_n(palette[(in[c >> 1] >> ((c & 1) ? 0 : 4)) & 15].data(), 3, o); break;
            case 8: std::copy_n(palette[in[c]].data(), 3, o); break;
            case 24:
                o[0] = in[3 * c + 2];
                o[1] = in[3 * c + 1];
                o[2] = in[3 * c];
                break;
            case 16:
            case 32: {
                const std::uint32_t v = bpp == 16 ? le16(in + 2 * c) : le32(in + 4 * c);
                o[0] = red(v);
                o[1] = green(v);
                o[2] = blue(v);
                break;
            }
            default: break;
            }
        }
    }
    return rgb;
}

} // namespace vitrine::core::image::bmp
