#pragma once
// Embeddings together with what each row is (image path, labels, split): the unit that
// the map, the neighbours panel and the exporters work on. Torch-free.
//
// On disk an embeddings file is `.npy`, `.safetensors` or `.csv`, with the row metadata in
// a `<file>.rows.tsv` sidecar: a header row ("path\tlabel\t..."), then one row per
// embedding, fields escaped as \\ \t \n \r (the format `vitrine-cli embed` writes).

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/matrix.h"

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

/// TSV field escaping used by the rows sidecar: \ -> \\, tab -> \t, newline -> \n, CR -> \r.
std::string escapeTsvField(std::string_view field);
std::string unescapeTsvField(std::string_view field);
/// RFC 4180: quoted (with doubled quotes) when the field has a comma, quote, CR, LF or tab,
/// or starts/ends with a space. UTF-8 passes through untouched.
std::string csvField(std::string_view field);
/// Splits RFC 4180 CSV text into records of fields (quoted fields may hold newlines).
/// Throws core::Error naming `name` on an unterminated quote.
std::vector<std::vector<std::string>> parseCsv(std::string_view text, const std::filesystem::path& name);

/// "<file>.rows.tsv" next to an embeddings file.
std::filesystem::path rowsSidecarPath(const std::filesystem::path& embeddingsFile);
RowTable parseRowTable(std::string_view text, const std::filesystem::path& nameForErrors);
RowTable readRowTable(const std::filesystem::path& file);
/// Serialises with a header row and escaped fields (no file I/O).
std::string formatRowTable(const RowTable& table);
void writeRowTable(const std::filesystem::path& file, const RowTable& table);

/// Minimal safetensors I/O for float32 matrices (what the exporters need).
struct NamedMatrix {
    std::string name;
    const core::Matrix* matrix;
};
std::string formatSafetensors(const std::vector<NamedMatrix>& tensors, const std::map<std::string, std::string>& metadata);
/// Reads every 2-D (or 1-D, as [n, 1]) F32/F64 tensor; other dtypes are skipped. Validates
/// the header and byte ranges; throws core::Error naming the file.
std::map<std::string, core::Matrix> readSafetensorsMatrices(const std::filesystem::path& file,
                                                            std::map<std::string, std::string>* metadata = nullptr);
/// Same from a whole file held in memory; `nameForErrors` is used in messages.
std::map<std::string, core::Matrix> parseSafetensorsMatrices(std::string_view bytes,
                                                             const std::filesystem::path& nameForErrors,
                                                             std::map<std::string, std::string>* metadata = nullptr);

struct EmbeddingSet {
    core::Matrix embeddings; ///< [N, E] float32
    RowTable rows;           ///< N rows; columns at least "path" and "label"
    core::Matrix coords;     ///< [N, 2] float32 map coordinates, or empty
};

/// Loads an embeddings file (.npy, .safetensors with tensor "embeddings" (else its only 2-D
/// tensor) and optional "coords", or .csv as written by the CSV exporter: columns e0..eN-1,
/// optional x, y, the rest metadata) and its rows sidecar (for .npy/.safetensors; when the
/// sidecar is missing the rows are named by index). Throws core::Error naming the file when
/// the file is unreadable or the sidecar's row count differs.
EmbeddingSet loadEmbeddingSet(const std::filesystem::path& file);

} // namespace vitrine::core::io
