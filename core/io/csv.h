#pragma once
// CSV text (RFC 4180) as the exporters write it and the embeddings loader reads it. Torch-free.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace vitrine::core::io {

/// RFC 4180: quoted (with doubled quotes) when the field has a comma, quote, CR, LF or tab,
/// or starts/ends with a space. UTF-8 passes through untouched.
std::string csvField(std::string_view field);
/// Splits RFC 4180 CSV text into records of fields (quoted fields may hold newlines).
/// Throws core::Error naming `name` on an unterminated quote.
std::vector<std::vector<std::string>> parseCsv(std::string_view text, const std::filesystem::path& name);

/// Appends one row of `cols` floats as writeCsv formats it (with the newline) to `line`.
void appendCsvRow(std::string& line, const float* row, std::int64_t cols);

/// Comma-separated, one row per line, no header, shortest round-trip float formatting.
void writeCsv(const std::filesystem::path& file, const float* data, std::int64_t rows, std::int64_t cols);

} // namespace vitrine::core::io
