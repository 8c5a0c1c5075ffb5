#pragma once
// Comparing two embeddings of the same images — two models, or two checkpoints of one
// training run: how far each image's neighbourhood moved, and how well one 2-D map lines up
// with the other. Torch-free (plain Matrix and RowTable in, plain structs out), so the GUI's
// worker can include it.
//
// Intended usage (from a worker thread):
//   CompareOptions o;  o.k = 10;  o.mapA = &layoutA;  o.mapB = &layoutB;  // maps optional
//   auto c = compareEmbeddings(setA.embeddings, setB.embeddings, setA.rows, o, progress, &cancel);
//   for (const auto& ch : c.changed) ...   // most changed first: ch.onlyA / ch.onlyB
//   drawMap(c.procrustes->aligned);         // map B in map A's frame, for a side-by-side view
//
// The measures, and why:
// - Neighbourhood overlap of row i: |kNN_A(i) ∩ kNN_B(i)| / k, the k nearest other rows
//   under cosine distance in each embedding (NeighbourIndex: exact up to 20,000 rows, HNSW
//   above). It needs no common space (E1 and E2 may differ) and ignores anything a model may
//   do to the whole space at once (rotate it, scale it): only who is near whom counts, which
//   is what a person browsing neighbours sees. 1 = the same neighbours, 0 = none in common.
// - Procrustes residual of the maps: map B is moved onto map A by the similarity transform
//   (rotation or reflection, one uniform scale, translation) that minimises the squared
//   distances between corresponding points (Schönemann 1966; closed form from the SVD of
//   the C x C cross-covariance, cv::SVD). The residual is that minimum divided by map A's
//   spread about its mean, i.e. scipy.spatial.procrustes's "disparity": in [0, 1], 0 when the
//   maps are the same picture, scale-free, so maps of different units compare.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/analysis/neighbours.h"
#include "core/common/job.h"
#include "core/common/matrix.h"
#include "core/io/embedding_set.h"

namespace vitrine::core::analysis {

/// The similarity transform taking `moving` onto `reference`: aligned = scale * (moving -
/// movingMean) R + referenceMean, R orthogonal (a rotation, or a reflection when det R < 0).
struct ProcrustesFit {
    Matrix aligned;                  ///< [N, C] float32: `moving` in `reference`'s frame
    std::vector<double> rotation;    ///< R, [C, C] row-major
    double scale = 1.0;              ///< uniform scale applied to `moving`
    std::vector<double> translation; ///< [C]: referenceMean - scale * movingMean R
    bool reflection = false;         ///< det R < 0
    /// sum ||aligned_i - reference_i||^2 / sum ||reference_i - referenceMean||^2, in [0, 1]
    /// (scipy.spatial.procrustes's disparity); 0 when `reference` has no spread.
    double residual = 0.0;
    /// Root mean squared distance between aligned and reference points, in reference's units.
    double rmsError = 0.0;
};

/// Orthogonal Procrustes with uniform scale: the fit of `moving` onto `reference` (both
/// [N, C] float32, same N >= 1 and C >= 1; rows correspond). A `moving` map with no spread
/// (all points equal) gets scale 0 and lands on reference's mean. Throws core::Error when the
/// shapes differ.
ProcrustesFit procrustes(const Matrix& moving, const Matrix& reference);

struct CompareOptions {
    int k = 10; ///< neighbours per image (clamped to N - 1)
    Metric metric = Metric::Cosine;
    /// Optional 2-D (any C) maps of the same rows, e.g. each embedding's PCA or t-SNE layout:
    /// when both are set, map B is aligned onto map A (ComparisonReport::procrustes).
    const Matrix* mapA = nullptr;
    const Matrix* mapB = nullptr;
    /// Passed to NeighbourIndex (exact up to approximateAbove rows, HNSW above).
    NeighbourOptions neighbours{};
};

/// One image's neighbourhood under the two embeddings.
struct NeighbourhoodChange {
    std::int64_t row = -1;
    float overlap = 1.0f;            ///< |kNN_A ∩ kNN_B| / k, in [0, 1]
    std::vector<std::int64_t> onlyA; ///< neighbours under A only, nearest (under A) first
    std::vector<std::int64_t> onlyB; ///< neighbours under B only, nearest (under B) first
};

struct ComparisonReport {
    int k = 0;                  ///< neighbours used (options.k clamped to N - 1)
    double meanOverlap = 0.0;   ///< over all rows
    std::vector<float> overlap; ///< [N], every row (e.g. to colour the map)
    /// Every row, most changed first: overlap ascending, then row ascending.
    std::vector<NeighbourhoodChange> changed;
    /// Mean overlap per value of rows' "label" column (absent when there is no such column).
    std::map<std::string, double> perClassOverlap;
    std::optional<ProcrustesFit> procrustes; ///< when both maps were given
    double seconds = 0.0;
};

/// Compares `a` ([N, E1] float32) and `b` ([N, E2] float32), whose row i is the same image
/// (described by `rows`: N rows, "label" used for the per-class means; may be empty of
/// columns). Progress: the neighbour graphs' Indexing and Neighbours (rows), detail "A" or "B". Throws core::Error when
/// the row counts differ or N < 2, core::Cancelled when `cancel` is set (polled between
/// stages and batches).
ComparisonReport compareEmbeddings(const Matrix& a, const Matrix& b, const io::RowTable& rows,
                                   const CompareOptions& options = {}, const ProgressFn& progress = {},
                                   const CancelToken* cancel = nullptr);

/// Rows of `b` matched to rows of `a` by their "path" column: for each row of `a`, the row of
/// `b` with the same path, or -1 (for two embeddings files of one data set written in
/// different orders, or with different files skipped). Throws core::Error when either table
/// has no "path" column.
std::vector<std::int64_t> matchRowsByPath(const io::RowTable& a, const io::RowTable& b);

/// The rows `rows` of `m`, in that order (to line two matched embeddings files up). A view
/// (e.g. a memory-mapped file) is read only at those rows.
Matrix pickRows(const MatrixView& m, const std::vector<std::int64_t>& rows);

} // namespace vitrine::core::analysis
