#pragma once
// Embeddings of a data set's images together with their rows (path, label), as the commands
// that analyse a data set need them (audit, compare): embedded with a model, or read from a
// file `embed` wrote. One helper so the commands embed and label rows the same way.
#include <optional>
#include <string>

#include "app/vitrine-cli/progress.h"
#include "core/common/job.h"
#include "core/common/matrix.h"
#include "core/data/dataset.h"
#include "core/io/embedding_set.h"

namespace vitrine::cli {

struct EmbeddedRows {
    core::Matrix embeddings; ///< [N, E] float32
    core::io::RowTable rows; ///< N rows: "path" (relative to the data set) and "label"
    std::string source;      ///< the model's or the file's name, for reports
};

/// The label at `level` of a row whose path is relative to the data set's root, from its
/// folders (as a scan would give it); "" for a file at the top.
std::string labelFromPath(const std::string& path, int level);

/// Scans `root` for embedding (files are decoded by the embedder, which reports failures);
/// skipped entries are printed to stderr.
core::data::Dataset scanForEmbedding(const std::filesystem::path& root, const core::CancelToken& token);

/// Embeds every image of `ds` with `model` (a name or file, as for embed): rows in the data
/// set's order, files that fail to decode skipped with a line on stderr, the progress bar on
/// `printer`, a summary line on stderr.
EmbeddedRows embedRows(const std::string& model, const core::data::Dataset& ds, int labelLevel, int batch,
                       const std::string& precision, ProgressPrinter& printer, const core::CancelToken& token);

/// An embeddings file with its rows sidecar; with `labelLevel`, labels are taken again from
/// the paths' folders at that level.
EmbeddedRows loadEmbeddingRows(const std::string& file, std::optional<int> labelLevel);

} // namespace vitrine::cli
