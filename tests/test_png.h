#pragma once
// Writes PNGs that encoders refuse to make (rows over libpng's 1,000,000-pixel limit), for
// the decoder's size checks: valid 8-bit greyscale, stored (uncompressed) deflate blocks.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace vitrine::testutil {

inline std::uint32_t crc32(const std::string& bytes) {
    std::uint32_t c = 0xFFFFFFFFu;
    for (unsigned char b : bytes) {
        c ^= b;
        for (int k = 0; k < 8; ++k)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

inline void put32(std::string& s, std::uint32_t v) {
    for (int shift : {24, 16, 8, 0})
        s += char((v >> shift) & 0xFF);
}

/// A valid 8-bit greyscale PNG of any size, with stored (uncompressed) deflate blocks, so
/// no encoder limit gets in the way (libpng refuses to write rows over 1,000,000 pixels).
inline void writeGreyPng(const std::filesystem::path& file, std::uint32_t width, std::uint32_t height) {
    std::string raw;
    for (std::uint32_t y = 0; y < height; ++y) {
        raw += '\0'; // filter: none
        raw.append(width, char(y * 37 % 256));
    }
    std::string z = "\x78\x01";
    for (std::size_t pos = 0; pos < raw.size() || pos == 0;) {
        const std::size_t n = std::min<std::size_t>(65535, raw.size() - pos);
        z += char(pos + n == raw.size() ? 1 : 0);
        z += char(n & 0xFF), z += char(n >> 8), z += char(~n & 0xFF), z += char((~n >> 8) & 0xFF);
        z.append(raw, pos, n);
        pos += n;
        if (pos == raw.size())
            break;
    }
    std::uint32_t a = 1, b = 0;
    for (unsigned char ch : raw)
        a = (a + ch) % 65521, b = (b + a) % 65521;
    put32(z, (b << 16) | a);
    auto chunk = [](std::string& out, const char* type, const std::string& data) {
        put32(out, std::uint32_t(data.size()));
        const std::string body = std::string(type, 4) + data;
        out += body;
        put32(out, crc32(body));
    };
    std::string ihdr;
    put32(ihdr, width);
    put32(ihdr, height);
    ihdr += std::string("\x08\x00\x00\x00\x00", 5); // 8-bit, greyscale, deflate, no filter, no interlace
    std::string png = "\x89PNG\r\n\x1a\n";
    chunk(png, "IHDR", ihdr);
    chunk(png, "IDAT", z);
    chunk(png, "IEND", "");
    std::ofstream(file, std::ios::binary) << png;
}

} // namespace vitrine::testutil
