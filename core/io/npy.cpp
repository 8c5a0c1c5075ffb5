#include "core/io/npy.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/common/error.h"
#include "core/common/files.h"
#include "core/io/atomic_file.h"

namespace vitrine::core::io {

static_assert(std::endian::native == std::endian::little, "the .npy writer assumes a little-endian host");

namespace {
constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;

// The header is a Python dict literal ("{'descr': '<f4', 'fortran_order': False,
// 'shape': (2, 3), }"). Parsed by hand: std::regex recurses per character, and a long
// crafted header overflowed the stack (fuzz_npy).
void skipSpaces(std::string_view& s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
}

std::optional<std::string_view> valueAfterKey(std::string_view header, std::string_view key) {
    const std::string quoted = "'" + std::string(key) + "'";
    const auto at = header.find(quoted);
    if (at == std::string_view::npos)
        return std::nullopt;
    auto rest = header.substr(at + quoted.size());
    skipSpaces(rest);
    if (rest.empty() || rest.front() != ':')
        return std::nullopt;
    rest.remove_prefix(1);
    skipSpaces(rest);
    return rest;
}

std::optional<std::string_view> quotedValue(std::string_view header, std::string_view key) {
    auto rest = valueAfterKey(header, key);
    if (!rest || rest->empty() || rest->front() != '\'')
        return std::nullopt;
    const auto close = rest->find('\'', 1);
    if (close == std::string_view::npos)
        return std::nullopt;
    return rest->substr(1, close - 1);
}

/// "(2, 3)", "(5,)", "()" -> the dimensions; nullopt when malformed or a dimension has
/// more than 18 digits.
std::optional<std::vector<std::int64_t>> shapeValue(std::string_view header) {
    auto rest = valueAfterKey(header, "shape");
    if (!rest || rest->empty() || rest->front() != '(')
        return std::nullopt;
    const auto close = rest->find(')');
    if (close == std::string_view::npos)
        return std::nullopt;
    std::string_view inside = rest->substr(1, close - 1);
    std::vector<std::int64_t> dims;
    while (true) {
        skipSpaces(inside);
        if (inside.empty())
            return dims;
        std::size_t digits = 0;
        while (digits < inside.size() && inside[digits] >= '0' && inside[digits] <= '9')
            ++digits;
        if (digits == 0 || digits > 18)
            return std::nullopt;
        std::int64_t v = 0;
        std::from_chars(inside.data(), inside.data() + digits, v);
        dims.push_back(v);
        inside.remove_prefix(digits);
        skipSpaces(inside);
        if (inside.empty())
            return dims;
        if (inside.front() != ',')
            return std::nullopt;
        inside.remove_prefix(1);
    }
}
} // namespace

std::string npyMatrixPreamble(std::int64_t rows, std::int64_t cols, std::size_t size) {
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                         std::to_string(cols) + "), }";
    // magic(6) + version(2) + length(2) + header + '\n' is padded to a multiple of 64 (or to `size`).
    const std::size_t unpadded = kMagicSize + 2 + 2 + header.size() + 1;
    std::size_t target = unpadded + (64 - unpadded % 64) % 64;
    if (size > 0) {
        if (size < unpadded || size % 64 != 0 || size - kMagicSize - 4 > 0xffff)
            throw Error("internal error: an .npy header of " + std::to_string(unpadded) + " bytes does not fit " +
                        std::to_string(size));
        target = size;
    }
    header.append(target - unpadded, ' ');
    header.push_back('\n');
    std::string out(kMagic, kMagicSize);
    out.push_back(1); // version 1.0
    out.push_back(0);
    const auto len = static_cast<std::uint16_t>(header.size());
    out.push_back(static_cast<char>(len & 0xff));
    out.push_back(static_cast<char>(len >> 8));
    out += header;
    return out;
}

void writeNpyMatrix(std::ostream& out, const core::MatrixView& m) {
    const auto preamble = npyMatrixPreamble(m.rows, m.cols);
    out.write(preamble.data(), static_cast<std::streamsize>(preamble.size()));
    const std::int64_t block = std::max<std::int64_t>(1, (std::int64_t(1) << 22) / std::max<std::int64_t>(1, m.cols));
    for (std::int64_t start = 0; start < m.rows; start += block) {
        const std::int64_t end = std::min(m.rows, start + block);
        out.write(reinterpret_cast<const char*>(m.row(start)),
                  static_cast<std::streamsize>((end - start) * m.cols * std::int64_t(sizeof(float))));
        m.releasePages(start, end);
    }
}

void writeNpyMatrix(const std::filesystem::path& path, const core::MatrixView& m) {
    writeFileAtomically(path, [&](std::ostream& out) { writeNpyMatrix(out, m); });
}

namespace {
/// What the header of an .npy file says about its data.
struct NpyLayout {
    std::size_t itemSize = 0; // 4 ('<f4') or 8 ('<f8')
    bool fortran = false;
    std::int64_t rows = 0, cols = 0;
    std::size_t dataOffset = 0;
};

/// Parses and checks the header of `bytes` (the whole file), including that the data size
/// matches the shape. Throws core::Error naming `name`.
NpyLayout parseNpyLayout(std::string_view bytes, const std::filesystem::path& name) {
    if (bytes.size() < 10 || bytes.substr(0, kMagicSize) != std::string_view(kMagic, kMagicSize))
        throw Error(name, "not a NumPy .npy file (bad magic); expected a file written by numpy.save");
    const int major = static_cast<unsigned char>(bytes[6]);
    std::size_t headerLen = 0, offset = 0;
    if (major == 1) {
        headerLen = static_cast<unsigned char>(bytes[8]) | (std::size_t(static_cast<unsigned char>(bytes[9])) << 8);
        offset = 10;
    } else if (major == 2 || major == 3) {
        if (bytes.size() < 12)
            throw Error(name, "truncated .npy header");
        for (int i = 0; i < 4; ++i)
            headerLen |= std::size_t(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
        offset = 12;
    } else {
        throw Error(name, "unsupported .npy version " + std::to_string(major));
    }
    if (headerLen > 1 << 20 || offset + headerLen > bytes.size())
        throw Error(name, "truncated or oversized .npy header");
    const std::string_view header = bytes.substr(offset, headerLen);
    const auto descr = quotedValue(header, "descr");
    if (!descr)
        throw Error(name, "malformed .npy header (no 'descr'): " + std::string(header.substr(0, 200)));
    NpyLayout l;
    if (*descr == "<f4" || *descr == "=f4")
        l.itemSize = 4;
    else if (*descr == "<f8" || *descr == "=f8")
        l.itemSize = 8;
    else
        throw Error(name, "unsupported .npy dtype '" + std::string(descr->substr(0, 40)) +
                              "'; expected float32 ('<f4') or float64");
    const auto fortranText = valueAfterKey(header, "fortran_order");
    if (!fortranText || !(fortranText->starts_with("True") || fortranText->starts_with("False")))
        throw Error(name, "malformed .npy header (no 'fortran_order')");
    l.fortran = fortranText->starts_with("True");
    const auto shape = shapeValue(header);
    if (!shape || shape->empty() || shape->size() > 2)
        throw Error(name, "unsupported .npy shape; expected a 1-D or 2-D array: " + std::string(header.substr(0, 200)));
    l.rows = (*shape)[0];
    l.cols = shape->size() == 2 ? (*shape)[1] : 1;
    l.dataOffset = offset + headerLen;
    const std::int64_t rows = l.rows, cols = l.cols;
    // (n, 0) with n > 0 holds nothing but would make loaders build n row names.
    if (rows < 0 || cols < 0 || (cols == 0 && rows > 0) ||
        (cols > 0 && static_cast<std::uint64_t>(rows) > (std::uint64_t(1) << 40) / static_cast<std::uint64_t>(cols)))
        throw Error(name, "implausible .npy shape (" + std::to_string(rows) + ", " + std::to_string(cols) + ")");
    const std::size_t count = static_cast<std::size_t>(rows * cols);
    if (bytes.size() - l.dataOffset != count * l.itemSize)
        throw Error(
            name,
            "size does not match its header: shape (" + std::to_string(rows) + ", " + std::to_string(cols) +
                ") needs " + std::to_string(count * l.itemSize) + " data bytes, file has " +
                std::to_string(bytes.size() - l.dataOffset) +
                (bytes.size() - l.dataOffset < count * l.itemSize ? " (truncated: copy or export it again)" : ""));
    return l;
}

/// A read-only mapping of a whole file, unmapped when the last owner lets go.
class FileMapping {
public:
    explicit FileMapping(const std::filesystem::path& path) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            throw Error(path, std::string("cannot open: ") + std::strerror(errno));
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            const int err = errno;
            ::close(fd);
            throw Error(path, std::string("cannot stat: ") + std::strerror(err));
        }
        if (!S_ISREG(st.st_mode)) {
            ::close(fd);
            throw Error(path, "not a regular file; expected an .npy file");
        }
        m_size = static_cast<std::size_t>(st.st_size);
        if (m_size > 0) {
            void* p = ::mmap(nullptr, m_size, PROT_READ, MAP_SHARED, fd, 0);
            const int err = errno;
            ::close(fd);
            if (p == MAP_FAILED)
                throw Error(path, std::string("cannot memory-map: ") + std::strerror(err));
            m_data = static_cast<const char*>(p);
        } else {
            ::close(fd);
        }
    }
    ~FileMapping() {
        if (m_data)
            ::munmap(const_cast<char*>(m_data), m_size);
    }
    FileMapping(const FileMapping&) = delete;
    FileMapping& operator=(const FileMapping&) = delete;
    std::string_view bytes() const { return {m_data ? m_data : "", m_size}; }
    void adviseSequential() const {
        if (m_data)
            ::madvise(const_cast<char*>(m_data), m_size, MADV_SEQUENTIAL);
    }

private:
    const char* m_data = nullptr;
    std::size_t m_size = 0;
};
} // namespace

core::Matrix parseNpy(std::string_view bytes, const std::filesystem::path& name) {
    const NpyLayout l = parseNpyLayout(bytes, name);
    const std::int64_t rows = l.rows, cols = l.cols;
    const std::size_t count = static_cast<std::size_t>(rows * cols), itemSize = l.itemSize;
    const bool fortran = l.fortran;
    core::Matrix out(rows, cols);
    const char* src = bytes.data() + l.dataOffset;
    if (itemSize == 4 && !fortran && count > 0) {
        std::memcpy(out.data.data(), src, count * 4);
        return out;
    }
    for (std::size_t i = 0; i < count; ++i) {
        float v;
        if (itemSize == 4) {
            std::memcpy(&v, src + 4 * i, 4);
        } else {
            double d;
            std::memcpy(&d, src + 8 * i, 8);
            v = static_cast<float>(d);
        }
        // Fortran order stores column by column.
        const std::size_t dst = fortran ? (i % static_cast<std::size_t>(rows)) * static_cast<std::size_t>(cols) +
                                              i / static_cast<std::size_t>(rows)
                                        : i;
        out.data[dst] = v;
    }
    return out;
}

core::MatrixView mapNpyMatrix(const std::filesystem::path& path, bool* mapped) {
    auto mapping = std::make_shared<const FileMapping>(path);
    const NpyLayout l = parseNpyLayout(mapping->bytes(), path);
    // Only little-endian float32 in C order whose data starts 4-byte aligned can be used in
    // place (numpy pads the header to 64 bytes, so its own files always can).
    const bool inPlace = l.itemSize == 4 && !l.fortran && l.dataOffset % alignof(float) == 0;
    if (mapped)
        *mapped = inPlace;
    if (!inPlace)
        return core::MatrixView::owning(parseNpy(mapping->bytes(), path));
    const auto* data = reinterpret_cast<const float*>(mapping->bytes().data() + l.dataOffset);
    core::MatrixView view(l.rows * l.cols > 0 ? data : nullptr, l.rows, l.cols, mapping);
    view.fileBacked = true;
    return view;
}

core::Matrix readNpyMatrix(const std::filesystem::path& path) { return parseNpy(readFile(path), path); }

} // namespace vitrine::core::io
