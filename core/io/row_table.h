#pragma once
// The rows sidecar: what each embedding row is (image path, label, split, ...), kept beside
// an embeddings file as `<file>.rows.tsv` (or in a safetensors file's "rows" metadata). On
// disk: a header row ("path\tlabel\t..."), then one row per embedding, fields escaped as
// \\ \t \n \r (the format `vitrine-cli embed` writes). Torch-free.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace vitrine::core::io {

/// Row metadata as strings, one column per field ("path", "label", "species", "split", ...).
struct RowTable {
    std::vector<std::string> columns;
    std::vector<std::vector<std::string>> rows; ///< rows[i].size() == columns.size()

    std::int64_t size() const { return static_cast<std::int64_t>(rows.size()); }
    /// Index of the column called `name`, or -1.
    int column(std::string_view name) const;
    /// rows[row][column(name)], or "" when there is no such column.
    const std::string& value(std::int64_t row, std::string_view name) const;
};

/// One row as the embed pipeline produces it (the "path" and "label" columns).
struct RowInfo {
    std::string path;  ///< as the data set names it (relative path where there is one)
    std::string label; ///< may be empty
};

/// TSV field escaping used by the rows sidecar: \ -> \\, tab -> \t, newline -> \n, CR -> \r.
std::string escapeTsvField(std::string_view field);
std::string unescapeTsvField(std::string_view field);

/// "<file>.rows.tsv" next to an embeddings file.
std::filesystem::path rowsSidecarPath(const std::filesystem::path& embeddingsFile);
RowTable parseRowTable(std::string_view text, const std::filesystem::path& nameForErrors);
RowTable readRowTable(const std::filesystem::path& file);
/// Serialises with a header row and escaped fields (no file I/O).
std::string formatRowTable(const RowTable& table);
void writeRowTable(const std::filesystem::path& file, const RowTable& table);

} // namespace vitrine::core::io
