#include "core/io/embedding_io.h"

#include <charconv>
#include <cstring>
#include <sstream>

#include "core/common/error.h"
#include "core/io/atomic_file.h"

namespace vitrine::core::io {

void writeNpy(const std::filesystem::path& file, const float* data, std::int64_t rows, std::int64_t cols) {
    if (rows < 0 || cols < 0)
        throw Error(file, "negative matrix shape");
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                         std::to_string(cols) + "), }";
    // Magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
    const std::size_t total = 10 + header.size() + 1;
    header.append((64 - total % 64) % 64, ' ');
    header += '\n';
    writeFileAtomically(file, [&](std::ostream& out) {
        out.write("\x93NUMPY\x01\x00", 8);
        const auto len = static_cast<std::uint16_t>(header.size());
        const char lenBytes[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
        out.write(lenBytes, 2);
        out.write(header.data(), static_cast<std::streamsize>(header.size()));
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(rows * cols * sizeof(float)));
    });
}

Matrix readNpy(const std::filesystem::path& file) {
    const std::string bytes = readFile(file);
    auto fail = [&](const std::string& what) { return Error(file, "not a readable .npy file: " + what); };
    if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0)
        throw fail("missing the \\x93NUMPY magic");
    const auto major = static_cast<unsigned char>(bytes[6]);
    std::size_t headerLen = 0, headerStart = 0;
    if (major == 1) {
        headerLen = static_cast<unsigned char>(bytes[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
        headerStart = 10;
    } else if (major == 2 || major == 3) {
        if (bytes.size() < 12)
            throw fail("truncated header");
        for (int i = 3; i >= 0; --i)
            headerLen = (headerLen << 8) | static_cast<unsigned char>(bytes[8 + i]);
        headerStart = 12;
    } else
        throw fail("unsupported version " + std::to_string(major));
    if (headerStart + headerLen > bytes.size())
        throw fail("header runs past the end of the file");
    const std::string header = bytes.substr(headerStart, headerLen);
    std::size_t elemSize = 0;
    if (header.find("'descr': '<f4'") != std::string::npos)
        elemSize = 4;
    else if (header.find("'descr': '<f8'") != std::string::npos)
        elemSize = 8;
    else
        throw fail("only little-endian float32/float64 arrays are supported (header: " + header + ")");
    if (header.find("'fortran_order': False") == std::string::npos)
        throw fail("Fortran-order arrays are not supported");
    const auto sp = header.find("'shape': (");
    const auto ep = sp == std::string::npos ? sp : header.find(')', sp);
    if (ep == std::string::npos)
        throw fail("no shape in header");
    std::vector<std::int64_t> dims;
    std::string shape = header.substr(sp + 10, ep - sp - 10);
    std::stringstream ss(shape);
    std::string tok;
    while (std::getline(ss, tok, ',')) {
        auto b = tok.find_first_not_of(' ');
        if (b == std::string::npos)
            continue;
        std::int64_t v = 0;
        auto [p, ec] = std::from_chars(tok.data() + b, tok.data() + tok.size(), v);
        if (ec != std::errc() || v < 0)
            throw fail("bad shape '" + shape + "'");
        dims.push_back(v);
    }
    Matrix m;
    if (dims.size() == 1) {
        m.rows = dims[0];
        m.cols = 1;
    } else if (dims.size() == 2) {
        m.rows = dims[0];
        m.cols = dims[1];
    } else
        throw fail("expected a 1-D or 2-D array, shape is (" + shape + ")");
    const std::size_t dataStart = headerStart + headerLen;
    if (m.cols != 0 && static_cast<std::uint64_t>(m.rows) > (bytes.size() / elemSize) / static_cast<std::uint64_t>(m.cols))
        throw fail("data shorter than the shape says");
    const auto n = static_cast<std::size_t>(m.rows * m.cols);
    if (bytes.size() - dataStart != n * elemSize)
        throw fail("data size " + std::to_string(bytes.size() - dataStart) + " bytes does not match shape (" + shape + ")");
    m.data.resize(n);
    if (elemSize == 4) {
        std::memcpy(m.data.data(), bytes.data() + dataStart, n * 4);
    } else {
        for (std::size_t i = 0; i < n; ++i) {
            double d;
            std::memcpy(&d, bytes.data() + dataStart + i * 8, 8);
            m.data[i] = static_cast<float>(d);
        }
    }
    return m;
}

void writeCsv(const std::filesystem::path& file, const float* data, std::int64_t rows, std::int64_t cols) {
    writeFileAtomically(file, [&](std::ostream& out) {
        char buf[32];
        std::string line;
        for (std::int64_t r = 0; r < rows; ++r) {
            line.clear();
            for (std::int64_t c = 0; c < cols; ++c) {
                if (c)
                    line += ',';
                auto [p, ec] = std::to_chars(buf, buf + sizeof buf, data[r * cols + c]);
                line.append(buf, p);
            }
            line += '\n';
            out.write(line.data(), static_cast<std::streamsize>(line.size()));
        }
    });
}

std::string tsvEscape(std::string_view field) {
    std::string out;
    out.reserve(field.size());
    for (char ch : field) {
        switch (ch) {
        case '\\': out += "\\\\"; break;
        case '\t': out += "\\t"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        default: out += ch;
        }
    }
    return out;
}

std::string tsvUnescape(std::string_view field) {
    std::string out;
    out.reserve(field.size());
    for (std::size_t i = 0; i < field.size(); ++i) {
        if (field[i] != '\\' || i + 1 == field.size()) {
            out += field[i];
            continue;
        }
        switch (field[++i]) {
        case 't': out += '\t'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case '\\': out += '\\'; break;
        default: out += '\\'; out += field[i];
        }
    }
    return out;
}

void writeRowsTsv(const std::filesystem::path& file, const std::vector<RowInfo>& rows) {
    writeFileAtomically(file, [&](std::ostream& out) {
        out << "path\tlabel\n";
        for (const auto& r : rows)
            out << tsvEscape(r.path) << '\t' << tsvEscape(r.label) << '\n';
    });
}

std::vector<RowInfo> readRowsTsv(const std::filesystem::path& file) {
    const std::string text = readFile(file);
    std::vector<RowInfo> rows;
    std::size_t pos = 0, lineNo = 0;
    bool header = true;
    while (pos < text.size()) {
        auto nl = text.find('\n', pos);
        std::string_view line(text.data() + pos, (nl == std::string::npos ? text.size() : nl) - pos);
        pos = nl == std::string::npos ? text.size() : nl + 1;
        ++lineNo;
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        if (header) {
            if (line.substr(0, 10) != "path\tlabel")
                throw Error(file, "line 1: expected the header 'path<TAB>label'");
            header = false;
            continue;
        }
        if (line.empty())
            continue;
        auto tab = line.find('\t');
        if (tab == std::string_view::npos)
            throw Error(file, "line " + std::to_string(lineNo) + ": expected 'path<TAB>label'");
        auto rest = line.substr(tab + 1);
        rows.push_back({tsvUnescape(line.substr(0, tab)), tsvUnescape(rest.substr(0, rest.find('\t')))});
    }
    if (header)
        throw Error(file, "empty file, expected the header 'path<TAB>label'");
    return rows;
}

std::filesystem::path rowsTsvPath(const std::filesystem::path& embeddingsFile) {
    return std::filesystem::path(embeddingsFile.string() + ".rows.tsv");
}

} // namespace vitrine::core::io
