#pragma once
// Exporting embeddings with their row metadata (and optionally 2-D map coordinates):
// NumPy, CSV, safetensors, and the TensorBoard Embedding Projector bundle. Every file is
// written through writeFileAtomically: a failed export leaves earlier files untouched
// and throws core::Error saying which file and why.

#include <filesystem>
#include <string_view>
#include <vector>

#include "core/common/job.h"
#include "core/io/embedding_set.h"

namespace vitrine::core::io {

enum class ExportFormat {
    Npy,         ///< <out>.npy [N, E] float32 + <out>.rows.tsv (+ <out>.coords.npy [N, 2])
    Csv,         ///< one file: metadata columns, e0..eE-1, (x, y); RFC 4180 quoting
    Safetensors, ///< tensors "embeddings" [N, E] F32 (+ "coords" [N, 2]); rows as JSON in __metadata__["rows"]
    Projector,   ///< folder: tensors.tsv, metadata.tsv, sprite.png, projector_config.pbtxt
};

/// "npy", "csv", "safetensors", "projector"; throws core::Error otherwise.
ExportFormat parseExportFormat(std::string_view name);

struct ExportOptions {
    ExportFormat format = ExportFormat::Npy;
    /// Where relative row paths are found for the projector's sprite; empty = the rows'
    /// paths as they are (relative to the working directory).
    std::filesystem::path imagesRoot;
    bool sprite = true;       ///< projector: build sprite.png from the row images
    int maxThumbnail = 64;    ///< projector: thumbnail side upper bound in pixels
    int maxSpriteSide = 8192; ///< projector: TensorBoard's limit per sprite side
};

struct ExportResult {
    std::vector<std::filesystem::path> files; ///< written, in order
    int missingImages = 0;                    ///< sprite tiles left grey (image unreadable)
    int thumbnailSide = 0;                    ///< projector sprite thumbnail size
};

/// What an export reads: the embeddings as a view, so that a memory-mapped .npy
/// (openEmbeddingSet) is streamed to the output rather than copied into memory first.
struct ExportSource {
    core::MatrixView embeddings; ///< [N, E] float32
    const RowTable& rows;        ///< N rows
    core::MatrixView coords;     ///< [N, 2] float32, or empty
};

/// Writes `source` to `out` (a file, or for Projector a folder, created if missing). Npy,
/// CSV and safetensors stream from the view (a mapped file's pages are released behind);
/// the projector bundle is built in memory (TensorBoard reads it whole anyway).
/// Progress: StageKind::Thumbnails (rows) for the sprite. Throws core::Error / core::Cancelled.
ExportResult exportEmbeddings(const ExportSource& source, const std::filesystem::path& out,
                              const ExportOptions& options, const ProgressFn& progress = {},
                              const CancelToken* cancel = nullptr);
/// The same for a set held in memory.
ExportResult exportEmbeddings(const EmbeddingSet& set, const std::filesystem::path& out, const ExportOptions& options,
                              const ProgressFn& progress = {}, const CancelToken* cancel = nullptr);

/// Thumbnail side for `count` tiles in a square sprite of at most maxSide pixels per side.
int spriteThumbnailSide(std::int64_t count, int maxThumbnail = 64, int maxSide = 8192);

} // namespace vitrine::core::io
