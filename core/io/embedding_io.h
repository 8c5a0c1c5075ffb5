#pragma once
// Plain embedding files shared by embed, map and export: NumPy .npy (float32, C order),
// CSV, and the `<out>.rows.tsv` sidecar naming each row's image and label. Torch-free.
// All writers go through writeFileAtomically.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace vitrine::core::io {

// .npy files: see core/io/npy.h.

/// Appends one row of `cols` floats as writeCsv formats it (with the newline) to `line`.
void appendCsvRow(std::string& line, const float* row, std::int64_t cols);

/// Comma-separated, one row per line, no header, shortest round-trip float formatting.
void writeCsv(const std::filesystem::path& file, const float* data, std::int64_t rows, std::int64_t cols);

struct RowInfo {
    std::string path;  ///< as the data set names it (relative path where there is one)
    std::string label; ///< may be empty
};

/// TSV escaping: backslash -> "\\", tab -> "\t", newline -> "\n", carriage return -> "\r".
std::string tsvEscape(std::string_view field);
std::string tsvUnescape(std::string_view field);

/// Header "path\tlabel", then one escaped row per line.
void writeRowsTsv(const std::filesystem::path& file, const std::vector<RowInfo>& rows);
/// Reads what writeRowsTsv wrote. Throws core::Error on a missing header or malformed line.
std::vector<RowInfo> readRowsTsv(const std::filesystem::path& file);

/// "<out>.rows.tsv" beside an embeddings file.
std::filesystem::path rowsTsvPath(const std::filesystem::path& embeddingsFile);

} // namespace vitrine::core::io
