#include "core/io/embedding_stream.h"

#include <bit>
#include <cctype>
#include <cstdint>
#include <ostream>

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/io/atomic_file.h"
#include "core/io/csv.h"
#include "core/io/npy.h"

namespace vitrine::core::io {
namespace fs = std::filesystem;

static_assert(std::endian::native == std::endian::little, "rows are written in the machine's float layout");

namespace {

std::string lowerExtension(const fs::path& p) {
    auto e = p.extension().string();
    for (auto& c : e)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return e;
}

void writeLittleEndian64(std::string& out, std::uint64_t v) {
    for (int i = 0; i < 8; ++i)
        out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

} // namespace

bool EmbeddingStreamWriter::supports(const fs::path& out) {
    const auto e = lowerExtension(out);
    return e == ".npy" || e == ".csv" || e == ".safetensors";
}

EmbeddingStreamWriter::EmbeddingStreamWriter(const fs::path& out, int dim, std::uint64_t maxRows,
                                             std::map<std::string, std::string> metadata)
    : m_out(out), m_dim(dim), m_maxRows(maxRows), m_metadata(std::move(metadata)) {
    const auto e = lowerExtension(out);
    if (e == ".npy")
        m_format = Format::Npy;
    else if (e == ".csv")
        m_format = Format::Csv;
    else if (e == ".safetensors")
        m_format = Format::Safetensors;
    else
        throw Error(out, "unsupported output type '" + e + "' (use .npy, .csv or .safetensors)");
    if (dim <= 0)
        throw Error(out, "internal error: embedding width " + std::to_string(dim));
    if (maxRows > static_cast<std::uint64_t>(INT64_MAX) / (static_cast<std::uint64_t>(dim) * sizeof(float)))
        throw Error(out, "too many rows for one file: " + std::to_string(maxRows) + " x " + std::to_string(dim));

    m_data = std::make_unique<AtomicFileWriter>(out);
    m_rowsTsv = std::make_unique<AtomicFileWriter>(rowsSidecarPath(out));
    // Headers written now hold the largest row count there can be; commit() rewrites them in
    // place, padded to the same size, with the real count.
    std::string header;
    if (m_format == Format::Npy)
        header = npyMatrixPreamble(static_cast<std::int64_t>(maxRows), dim);
    else if (m_format == Format::Safetensors)
        header = safetensorsHeader(maxRows, 0);
    m_headerSize = header.size();
    m_data->stream().write(header.data(), static_cast<std::streamsize>(header.size()));
    m_rowsTsv->stream() << "path\tlabel\n";
}

EmbeddingStreamWriter::~EmbeddingStreamWriter() = default; // uncommitted writers remove their temporaries

void EmbeddingStreamWriter::setMetadata(const std::string& key, const std::string& value) {
    auto it = m_metadata.find(key);
    const std::size_t before = it == m_metadata.end() ? 0 : it->second.size();
    if (value.size() > before)
        throw Error("embedding metadata '" + key + "' cannot grow after the header's space was kept");
    m_metadata[key] = value;
}

std::string EmbeddingStreamWriter::safetensorsHeader(std::uint64_t rows, std::size_t size) const {
    nlohmann::json header = nlohmann::json::object();
    if (!m_metadata.empty())
        header["__metadata__"] = m_metadata;
    const std::uint64_t bytes = rows * static_cast<std::uint64_t>(m_dim) * sizeof(float);
    header["embeddings"] = {{"dtype", "F32"}, {"shape", {rows, m_dim}}, {"data_offsets", {0, bytes}}};
    std::string text = header.dump();
    std::size_t padded = text.size() + (8 - text.size() % 8) % 8;
    if (size > 0) {
        if (size - 8 < text.size())
            throw Error(m_out, "internal error: the safetensors header grew past its reserved space");
        padded = size - 8;
    }
    text.append(padded - text.size(), ' '); // safetensors allows a header padded with spaces
    std::string out;
    writeLittleEndian64(out, text.size());
    return out + text;
}

void EmbeddingStreamWriter::append(const float* row, const RowInfo& info) {
    if (m_rows >= m_maxRows)
        throw Error(m_out, "internal error: more rows than the " + std::to_string(m_maxRows) + " announced");
    auto& out = m_data->stream();
    if (m_format == Format::Csv) {
        m_line.clear();
        appendCsvRow(m_line, row, m_dim);
        out.write(m_line.data(), static_cast<std::streamsize>(m_line.size()));
    } else {
        // .npy and safetensors both store little-endian float32, which is this machine's layout.
        out.write(reinterpret_cast<const char*>(row), static_cast<std::streamsize>(m_dim * sizeof(float)));
    }
    m_rowsTsv->stream() << escapeTsvField(info.path) << '\t' << escapeTsvField(info.label) << '\n';
    ++m_rows;
    // A full disk stops the run at the next buffer flush rather than after the last image.
    m_data->checkWrites();
    m_rowsTsv->checkWrites();
}

void EmbeddingStreamWriter::commit() {
    if (m_format == Format::Npy)
        m_data->overwrite(0, npyMatrixPreamble(static_cast<std::int64_t>(m_rows), m_dim, m_headerSize));
    else if (m_format == Format::Safetensors)
        m_data->overwrite(0, safetensorsHeader(m_rows, m_headerSize));
    // Both files are complete on disk before either replaces its predecessor, so a full disk
    // at the end cannot leave a new matrix beside the old rows.tsv.
    m_data->prepare();
    m_rowsTsv->prepare();
    m_data->publish();
    m_rowsTsv->publish();
}

} // namespace vitrine::core::io
