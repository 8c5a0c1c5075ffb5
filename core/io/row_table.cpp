#include "core/io/row_table.h"

#include "core/common/error.h"
#include "core/common/files.h"
#include "core/io/atomic_file.h"

namespace vitrine::core::io {

namespace fs = std::filesystem;

int RowTable::column(std::string_view name) const {
    for (std::size_t i = 0; i < columns.size(); ++i)
        if (columns[i] == name)
            return static_cast<int>(i);
    return -1;
}

const std::string& RowTable::value(std::int64_t row, std::string_view name) const {
    static const std::string kEmpty;
    const int c = column(name);
    return c < 0 ? kEmpty : rows[static_cast<std::size_t>(row)][static_cast<std::size_t>(c)];
}

std::string escapeTsvField(std::string_view field) {
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

std::string unescapeTsvField(std::string_view field) {
    std::string out;
    out.reserve(field.size());
    for (std::size_t i = 0; i < field.size(); ++i) {
        if (field[i] != '\\' || i + 1 == field.size()) {
            out += field[i];
            continue;
        }
        const char n = field[++i];
        out += n == 't' ? '\t' : n == 'n' ? '\n' : n == 'r' ? '\r' : n; // "\\" -> '\', unknown -> as is
    }
    return out;
}

fs::path rowsSidecarPath(const fs::path& embeddingsFile) {
    fs::path p = embeddingsFile;
    p += ".rows.tsv";
    return p;
}

namespace {

std::vector<std::string_view> splitTabs(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    for (;;) {
        const auto tab = line.find('\t', start);
        out.push_back(line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start));
        if (tab == std::string_view::npos)
            return out;
        start = tab + 1;
    }
}

} // namespace

RowTable parseRowTable(std::string_view text, const fs::path& name) {
    RowTable table;
    std::size_t pos = 0, line = 0;
    while (pos < text.size()) {
        auto nl = text.find('\n', pos);
        std::string_view l = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        pos = nl == std::string_view::npos ? text.size() : nl + 1;
        ++line;
        if (!l.empty() && l.back() == '\r')
            l.remove_suffix(1);
        auto fields = splitTabs(l);
        if (line == 1) {
            for (auto f : fields)
                table.columns.push_back(unescapeTsvField(f));
            if (table.column("path") < 0)
                throw Error(name, "rows sidecar has no 'path' column in its header (got '" + std::string(l) +
                                      "'); expected a header like 'path<TAB>label'");
            continue;
        }
        if (l.empty() && pos >= text.size())
            break;
        if (fields.size() != table.columns.size())
            throw Error(name, "line " + std::to_string(line) + " has " + std::to_string(fields.size()) +
                                  " fields, the header has " + std::to_string(table.columns.size()));
        std::vector<std::string> row;
        row.reserve(fields.size());
        for (auto f : fields)
            row.push_back(unescapeTsvField(f));
        table.rows.push_back(std::move(row));
    }
    if (table.columns.empty())
        throw Error(name, "empty rows sidecar (no header)");
    return table;
}

RowTable readRowTable(const fs::path& file) { return parseRowTable(readFile(file), file); }

std::string formatRowTable(const RowTable& table) {
    std::string out;
    auto line = [&](const std::vector<std::string>& fields) {
        for (std::size_t i = 0; i < fields.size(); ++i) {
            if (i)
                out += '\t';
            out += escapeTsvField(fields[i]);
        }
        out += '\n';
    };
    line(table.columns);
    for (const auto& r : table.rows)
        line(r);
    return out;
}

void writeRowTable(const fs::path& file, const RowTable& table) { writeFileAtomically(file, formatRowTable(table)); }

} // namespace vitrine::core::io
