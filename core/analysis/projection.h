#pragma once
// 2-D projections of embedding rows for the map: PCA, t-SNE and UMAP, plus the
// trustworthiness score that says how well a layout keeps neighbourhoods.
// Plain float matrices in and out (no torch in this header).
//
// All projections are deterministic for a given seed (same seed, same layout, any
// thread count), report progress, poll the cancel token between iterations (throwing
// core::Cancelled) and can start from a previous layout so a map that is recomputed
// while training runs does not jump.

#include <cstdint>
#include <string>

#include "core/analysis/neighbours.h"
#include "core/common/job.h"
#include "core/common/matrix.h"
#include "core/common/matrix_view.h"

namespace vitrine::core::analysis {

struct PcaOptions {
    enum class Solver { Auto, Exact, Randomized };
    /// Auto: exact eigendecomposition of the [D, D] covariance when D <= 1024 (cost
    /// O(N D^2), exact and fast for embedding widths), randomised SVD otherwise.
    Solver solver = Solver::Auto;
    int components = 2;
    int oversamples = 10;    ///< randomised SVD: extra directions sampled
    int powerIterations = 4; ///< randomised SVD: subspace iterations
    std::uint64_t seed = 0;  ///< randomised SVD's test matrix
    /// The exact solver streams over the rows in blocks of this many (0 = about 16 MB of
    /// rows): it never holds a centred copy of the data, so a memory-mapped 10^6 x 384
    /// matrix is projected without being read into memory.
    std::int64_t blockRows = 0;
    /// When set ([N, components] float32, same rows), the result is rotated/reflected
    /// (orthogonal Procrustes) onto it so consecutive frames line up.
    const Matrix* alignTo = nullptr;
};

/// Principal components of `data` ([N, D] float32) -> [N, components] float32 scores
/// (centred data times the leading principal axes). Without alignTo, each axis' sign is
/// fixed so that its largest-magnitude loading is positive.
///
/// The exact solver makes three passes over the rows, a block at a time (mean; covariance
/// of the centred rows, float32 products summed in float64; scores), reporting progress
/// ("pca", one step per block and pass) and polling `cancel` between blocks.
Matrix pca(const Matrix& data, const PcaOptions& options = {}, const ProgressFn& progress = {},
           const CancelToken* cancel = nullptr);
/// The same on a view ([N, D] float32, e.g. a memory-mapped .npy, core/io/npy.h), with the
/// same results as the Matrix overload. The exact solver reads the view in blocks and keeps
/// only the [N, components] scores and a [D, D] covariance; the randomised solver (D > 1024
/// under Auto) copies the rows into memory first.
Matrix pca(const MatrixView& data, const PcaOptions& options = {}, const ProgressFn& progress = {},
           const CancelToken* cancel = nullptr);

/// The orthogonal matrix R (rotation or reflection, [C, C]) and uniform scale s minimising
/// ||s (layout - mean) R - (reference - mean')||; returns layout rotated by R and scaled about its
/// mean and moved onto the reference's mean. Both [N, C] float32 with the same N; throws
/// core::Error when the shapes differ. procrustes() (compare.h) also gives the transform and
/// the residual.
Matrix alignLayout(const Matrix& layout, const Matrix& reference);

struct TsneOptions {
    double perplexity = 30.0;
    int iterations = 1000;     ///< total, including the early-exaggeration phase
    double learningRate = 0.0; ///< 0 = auto: max(N / earlyExaggeration, 50) (Belkina 2019)
    double earlyExaggeration = 12.0;
    int earlyExaggerationIterations = 250; ///< set 0 when continuing from a previous layout
    /// Repulsive forces: FFT-accelerated interpolation (Linderman et al. 2019, O(N)) or a
    /// Barnes-Hut quadtree (van der Maaten 2014, O(N log N)).
    enum class Method { FftInterpolation, BarnesHut };
    Method method = Method::FftInterpolation;
    double theta = 0.5;                ///< Barnes-Hut accuracy in (0, 0.7]; smaller = slower
    Metric metric = Metric::Euclidean; ///< input-space distance
    std::uint64_t seed = 0;
    /// Initial layout ([N, 2] float32) e.g. the previous frame; null = PCA scaled to std 1e-4.
    const Matrix* init = nullptr;
    int threads = 0; ///< 0 = computeThreads()
};

/// t-SNE (van der Maaten & Hinton 2008) of `data` ([N, D] float32) -> [N, 2] float32.
/// Input affinities from the 3*perplexity nearest neighbours (NeighbourIndex).
/// Progress: StageKind::Neighbours (0 of 1, 1 of 1), then Optimising (iterations).
Matrix tsne(const MatrixView& data, const TsneOptions& options = {}, const ProgressFn& progress = {},
            const CancelToken* cancel = nullptr);

struct UmapOptions {
    int neighbours = 15; ///< n_neighbors, counting the point itself as umap-learn does
    double minDist = 0.1;
    double spread = 1.0;
    int epochs = 0; ///< 0 = auto: 500 for N <= 10,000, else 200
    double learningRate = 1.0;
    int negativeSamples = 5;
    double repulsion = 1.0; ///< gamma
    Metric metric = Metric::Euclidean;
    std::uint64_t seed = 0;
    /// Initial layout ([N, 2] float32), e.g. the previous frame; null = PCA scaled to +-10.
    const Matrix* init = nullptr;
    /// Above this many rows the SGD runs on every compute thread, lock-free like umap-learn's
    /// parallel mode: a few updates to shared points race, so two runs differ slightly. At or
    /// below it the SGD is single-threaded and the same seed gives the same layout.
    std::int64_t parallelAbove = 50'000;
};

/// The curve 1 / (1 + a d^(2b)) fitted to UMAP's membership-strength target for
/// (minDist, spread), as umap-learn's find_ab_params. Returns {a, b}.
std::pair<double, double> umapCurve(double minDist, double spread);

/// UMAP (McInnes, Healy & Melville 2018) of `data` ([N, D] float32) -> [N, 2] float32:
/// kNN graph, fuzzy simplicial set, SGD with negative sampling (single-threaded and
/// reproducible up to options.parallelAbove rows, on every thread above). Progress:
/// StageKind::Neighbours (0 of 1, 1 of 1), then Optimising (epochs).
Matrix umap(const MatrixView& data, const UmapOptions& options = {}, const ProgressFn& progress = {},
            const CancelToken* cancel = nullptr);

enum class ProjectionMethod { Pca, Tsne, Umap };

/// "pca", "tsne", "umap"; throws core::Error naming the accepted values otherwise.
ProjectionMethod parseProjectionMethod(const std::string& name);
std::string toString(ProjectionMethod method);

/// A map as a person asks for it, in the map panel or with `vitrine-cli project`.
struct ProjectionRequest {
    ProjectionMethod method = ProjectionMethod::Pca;
    std::uint64_t seed = 0;            ///< same seed, same layout
    double perplexity = 30.0;          ///< t-SNE
    int iterations = 0;                ///< t-SNE iterations (0: 1000) or UMAP epochs (0: UMAP's automatic count)
    int neighbours = 15;               ///< UMAP n_neighbors
    double minDist = 0.1;              ///< UMAP min_dist
    Metric metric = Metric::Euclidean; ///< input distance for t-SNE and UMAP
};

/// The one projection policy the map and `vitrine-cli project` share: [N, 2] float32 layout
/// of `data` ([N, D] float32) for `request`, adapted to the data:
///  - t-SNE's perplexity is capped at max(2, (N - 1) / 3) and UMAP's neighbours at N - 1,
///    so a small selection still gets a map instead of an error;
///  - `previous` ([N, 2], optional) continues an earlier layout so points do not jump: PCA
///    is aligned to it; t-SNE starts from it without early exaggeration, for a quarter of
///    the iterations (at least 150); UMAP starts from it for 100 epochs (or `iterations`
///    when given); t-SNE and UMAP are then aligned to it (rotation, reflection, scale).
/// Throws core::Error when `previous` is not [N, 2].
/// No projection copies `data`: PCA streams over it, and t-SNE and UMAP read it only to build
/// their neighbour graph (NeighbourIndex: above NeighbourOptions::faissAbove rows the FAISS
/// index reads a memory-mapped view in blocks) and their PCA start.
Matrix projectLayout(const MatrixView& data, const ProjectionRequest& request, const Matrix* previous = nullptr,
                     const ProgressFn& progress = {}, const CancelToken* cancel = nullptr);

/// Trustworthiness (Venna & Kaski 2001; sklearn.manifold.trustworthiness) of `layout`
/// ([N, C]) as an embedding of `data` ([N, D]) with Euclidean distances: 1 = every
/// low-dimensional k-neighbour is also a high-dimensional one. Needs k < N / 2.
double trustworthiness(const Matrix& data, const Matrix& layout, int k = 10, const CancelToken* cancel = nullptr);

} // namespace vitrine::core::analysis
