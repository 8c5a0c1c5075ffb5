#include "core/io/embedding_io.h"

#include <charconv>
#include <cstring>
#include <sstream>

#include "core/common/error.h"
#include "core/common/files.h"
#include "core/io/atomic_file.h"
#include "core/io/embedding_set.h"

namespace vitrine::core::io {

void appendCsvRow(std::string& line, const float* row, std::int64_t cols) {
    char buf[32];
    for (std::int64_t c = 0; c < cols; ++c) {
        if (c)
            line += ',';
        auto [p, ec] = std::to_chars(buf, buf + sizeof buf, row[c]);
        line.append(buf, p);
    }
    line += '\n';
}

void writeCsv(const std::filesystem::path& file, const float* data, std::int64_t rows, std::int64_t cols) {
    writeFileAtomically(file, [&](std::ostream& out) {
        std::string line;
        for (std::int64_t r = 0; r < rows; ++r) {
            line.clear();
            appendCsvRow(line, data + r * cols, cols);
            out.write(line.data(), static_cast<std::streamsize>(line.size()));
        }
    });
}

// One escaping for every rows sidecar: the implementation lives in embedding_set.
std::string tsvEscape(std::string_view field) { return escapeTsvField(field); }

std::string tsvUnescape(std::string_view field) { return unescapeTsvField(field); }

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
