#include "core/io/csv.h"

#include <charconv>

#include "core/common/error.h"
#include "core/io/atomic_file.h"

namespace vitrine::core::io {

namespace fs = std::filesystem;

std::string csvField(std::string_view field) {
    const bool quote = field.find_first_of(",\"\r\n\t") != std::string_view::npos ||
                       (!field.empty() && (field.front() == ' ' || field.back() == ' '));
    if (!quote)
        return std::string(field);
    std::string out = "\"";
    for (char ch : field) {
        if (ch == '"')
            out += '"';
        out += ch;
    }
    out += '"';
    return out;
}

std::vector<std::vector<std::string>> parseCsv(std::string_view text, const fs::path& name) {
    std::vector<std::vector<std::string>> records;
    std::vector<std::string> record;
    std::string field;
    bool inQuotes = false, fieldStarted = false;
    std::size_t line = 1;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char ch = text[i];
        if (inQuotes) {
            if (ch == '"') {
                if (i + 1 < text.size() && text[i + 1] == '"') {
                    field += '"';
                    ++i;
                } else {
                    inQuotes = false;
                }
            } else {
                if (ch == '\n')
                    ++line;
                field += ch;
            }
            continue;
        }
        if (ch == '"' && field.empty()) {
            inQuotes = fieldStarted = true;
        } else if (ch == ',') {
            record.push_back(std::move(field));
            field.clear();
            fieldStarted = true;
        } else if (ch == '\n' || ch == '\r') {
            if (ch == '\r' && i + 1 < text.size() && text[i + 1] == '\n')
                ++i;
            ++line;
            if (fieldStarted || !field.empty() || !record.empty()) {
                record.push_back(std::move(field));
                records.push_back(std::move(record));
            }
            record.clear();
            field.clear();
            fieldStarted = false;
        } else {
            field += ch;
            fieldStarted = true;
        }
    }
    if (inQuotes)
        throw Error(name, "unterminated quoted field at line " + std::to_string(line));
    if (fieldStarted || !field.empty() || !record.empty()) {
        record.push_back(std::move(field));
        records.push_back(std::move(record));
    }
    return records;
}

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

} // namespace vitrine::core::io
