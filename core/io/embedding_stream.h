#pragma once
// Embedding output written while the rows arrive: `vitrine-cli embed` appends each batch to
// the file as it comes off the model, so memory stays flat however many images there are.
// The matrix (.npy, .csv or .safetensors) and its `<out>.rows.tsv` sidecar are both written
// through AtomicFileWriter: nothing appears at the target until commit(), and a failed or
// cancelled run leaves the earlier files as they were. Torch-free.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "core/io/row_table.h"

namespace vitrine::core::io {

class AtomicFileWriter;

class EmbeddingStreamWriter {
public:
    /// `out` ends in .npy, .csv or .safetensors (else core::Error). `maxRows` bounds the rows
    /// that will be appended (it sizes the space kept for the header). `metadata` goes into a
    /// safetensors header's __metadata__ and is ignored by the other formats.
    EmbeddingStreamWriter(const std::filesystem::path& out, int dim, std::uint64_t maxRows,
                          std::map<std::string, std::string> metadata = {});
    ~EmbeddingStreamWriter();
    EmbeddingStreamWriter(const EmbeddingStreamWriter&) = delete;
    EmbeddingStreamWriter& operator=(const EmbeddingStreamWriter&) = delete;

    /// Appends one row (`dim` floats) and its path and label.
    void append(const float* row, const RowInfo& info);
    std::uint64_t rows() const { return m_rows; }

    /// Changes a metadata value before commit() (e.g. the precision that actually ran). The
    /// header's space was kept at construction: the new value may not be longer than the old
    /// (core::Error otherwise).
    void setMetadata(const std::string& key, const std::string& value);

    /// Completes the headers, writes both files out, then moves both into place (matrix
    /// first, then rows.tsv).
    void commit();

    /// True when `out`'s extension is one this writer handles.
    static bool supports(const std::filesystem::path& out);

private:
    enum class Format { Npy, Csv, Safetensors };
    std::string safetensorsHeader(std::uint64_t rows, std::size_t size) const;

    std::filesystem::path m_out;
    Format m_format;
    int m_dim;
    std::uint64_t m_maxRows, m_rows = 0;
    std::map<std::string, std::string> m_metadata;
    std::size_t m_headerSize = 0;
    std::unique_ptr<AtomicFileWriter> m_data, m_rowsTsv;
    std::string m_line;
};

} // namespace vitrine::core::io
