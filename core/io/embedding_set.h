#pragma once
// Embeddings together with what each row is (image path, labels, split): the unit that
// the map, the neighbours panel and the exporters work on. Torch-free.
//
// On disk an embeddings file is `.npy`, `.safetensors` or `.csv`, with the row metadata in
// the rows sidecar (core/io/row_table.h).

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/matrix.h"
#include "core/common/matrix_view.h"
#include "core/io/row_table.h"

namespace vitrine::core::io {

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

/// Embeddings that may be memory-mapped, with their rows: for readers of large sets that
/// only read the embeddings (neighbours).
struct MappedEmbeddingSet {
    core::MatrixView embeddings; ///< [N, E] float32; keeps its mapping or storage alive
    RowTable rows;               ///< as EmbeddingSet::rows
};

/// As loadEmbeddingSet, but a float32 C-order .npy is memory-mapped rather than read into
/// memory (core/io/npy.h: mapNpyMatrix); other files are loaded and owned by the view.
/// Map coordinates are not kept. Same errors as loadEmbeddingSet.
MappedEmbeddingSet openEmbeddingSet(const std::filesystem::path& file);

} // namespace vitrine::core::io
