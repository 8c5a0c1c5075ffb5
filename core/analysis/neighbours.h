#pragma once
// Nearest-neighbour search over embedding rows: exact (blocked matrix products and
// partial selection) for small sets, an HNSW graph (hnswlib) above a size threshold, and a
// FAISS IVF-Flat index for very large sets (saved beside the embeddings file and reused).
// Plain float matrices in and out, so UI code can include this without torch.
//
// Intended usage (from a worker thread):
//   NeighbourIndex index(embeddings, {.metric = Metric::Cosine}, progress, &cancel);
//   auto hits = index.queryRow(selectedRow, 12);         // the selection's neighbours
//   auto hits2 = index.query(newImageEmbedding.data(), 12); // a dropped image

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/common/job.h"
#include "core/common/matrix.h"
#include "core/common/matrix_view.h"

namespace vitrine::core::analysis {

enum class Metric {
    Cosine,    ///< distance = 1 - cos(a, b), in [0, 2]
    Euclidean, ///< distance = ||a - b||_2
};

struct Neighbour {
    std::int64_t row = -1; ///< row in the indexed matrix
    float distance = 0.0f; ///< in the units of the metric (see Metric)
};

/// A kNN graph held flat, for the graphs t-SNE and UMAP build over 10^6 rows: row i's
/// neighbours are ids[i*k .. i*k+k), nearest first, padded with -1 at the end when a row has
/// fewer than k. 8 bytes an edge (a Neighbour list costs 16, plus a vector per row): the
/// 90-neighbour graph of 10^6 rows is 720 MB instead of 1.5 GB. Row ids fit in 32 bits.
struct KnnGraph {
    std::int64_t rows = 0;
    int k = 0;
    std::vector<std::int32_t> ids;
    std::vector<float> distances;

    KnnGraph() = default;
    KnnGraph(std::int64_t rows, int k);
    const std::int32_t* idsOf(std::int64_t row) const { return ids.data() + row * k; }
    const float* distancesOf(std::int64_t row) const { return distances.data() + row * k; }
    float* distancesOf(std::int64_t row) { return distances.data() + row * k; }
    /// Neighbours held for `row` (k unless the row's list was short).
    int count(std::int64_t row) const;
    /// The same graph as one Neighbour list per row.
    std::vector<std::vector<Neighbour>> lists() const;
    /// Lists (each at most k long, nearest first) packed into a graph.
    static KnnGraph fromLists(const std::vector<std::vector<Neighbour>>& lists, int k);
};

/// Which search a NeighbourIndex runs.
enum class NeighbourEngine {
    Exact, ///< blocked matrix products, every row scored
    Hnsw,  ///< hnswlib graph (approximateAbove < N <= faissAbove)
    Faiss, ///< FAISS IVF-Flat (N > faissAbove)
};

/// What happened to the saved FAISS index file (see NeighbourOptions::embeddingsFile).
enum class IndexFileStatus {
    NotUsed,    ///< no file: not a FAISS index, or no embeddingsFile given
    Reused,     ///< a matching saved index was loaded; nothing was built
    Saved,      ///< built and written (there was none, or it did not match)
    SaveFailed, ///< built, but could not be written (see indexFileMessage())
};

/// Exact search parameters and the HNSW parameters used above the threshold.
struct NeighbourOptions {
    Metric metric = Metric::Cosine;
    /// Sets with more rows than this get an approximate (HNSW) index.
    std::int64_t approximateAbove = 20'000;
    bool forceExact = false;
    bool forceApproximate = false;
    int hnswM = 16;
    int hnswEfConstruction = 200;
    /// Candidate-list size at query time (>= k is enforced). 128 keeps recall@10 >= 0.95
    /// even for queries unlike the indexed set (tests/core/test_analysis_neighbours.cpp).
    /// 0 = choose it while building: up to 256 rows are held back as probe queries, and ef
    /// is the smallest whose recall@10 on them (against exact search) reaches
    /// hnswTargetRecall; then they are inserted too. That suits queries drawn like the
    /// indexed rows (the map's own points) and is faster on easy data, but queries from
    /// elsewhere can get a lower recall. Sets under 2,000 rows get 64.
    int hnswEfSearch = 128;
    /// Recall@10 the automatic ef aims for on the probe, a little above the 0.95 users are
    /// promised because 256 probes are a noisy sample.
    double hnswTargetRecall = 0.97;
    /// Sets with more rows than this get a FAISS IVF-Flat index instead of HNSW: on 2 cores
    /// it builds several times faster at the same recall (bench/notes.md, "W7 (issue 20)").
    std::int64_t faissAbove = 200'000;
    bool forceFaiss = false;
    /// IVF cells; 0 = about 2 sqrt(N) (a power of two, at least 16).
    int faissNlist = 0;
    /// Cells probed per query; 0 = the smallest of 1, 2, 4, ... whose recall@10 on 256 of the
    /// indexed rows (against exact search) reaches hnswTargetRecall.
    int faissNprobe = 0;
    /// The file the rows were read from. When set and the FAISS engine is used, the index
    /// is saved beside it (faissIndexPath) and reused while the file's size, modification
    /// time, the row count, dimension, metric and cell count match; otherwise rebuilt.
    std::filesystem::path embeddingsFile;
    std::uint64_t seed = 100;
    int threads = 0; ///< for building / batch queries; 0 = computeThreads()
};

/// An index over the rows of an [N, D] float32 matrix. Built once; queries are const and
/// safe to call concurrently from several threads.
class NeighbourIndex {
public:
    /// Indexes `data` ([N, D] float32; a Matrix converts to a borrowed view). Exact and HNSW
    /// indexes copy it; the FAISS index reads it once in blocks (so a memory-mapped file is
    /// not held in RAM twice) and keeps only its own copy. Throws core::Cancelled when
    /// cancelled while building, core::Error when a saved index cannot be read.
    explicit NeighbourIndex(const MatrixView& data, const NeighbourOptions& options = {},
                            const ProgressFn& progress = {}, const CancelToken* cancel = nullptr);
    ~NeighbourIndex();
    NeighbourIndex(NeighbourIndex&&) noexcept;
    NeighbourIndex& operator=(NeighbourIndex&&) noexcept;

    bool approximate() const;
    NeighbourEngine engine() const;
    /// The HNSW candidate-list size in use (0 for an exact index).
    int efSearch() const;
    /// FAISS cells probed per query (0 unless engine() is Faiss).
    int nprobe() const;
    /// FAISS cells in all (0 unless engine() is Faiss).
    int nlist() const;
    IndexFileStatus indexFileStatus() const;
    /// Why saving failed (IndexFileStatus::SaveFailed), else empty.
    std::string indexFileMessage() const;
    /// Recall@10 the automatic ef reached on its probe (-1 when ef was given or exact).
    double probedRecall() const;
    std::int64_t size() const;
    std::int64_t dim() const;
    const NeighbourOptions& options() const;

    /// The k nearest rows to `vector` (dim() floats), nearest first. Rows equal to
    /// `excludeRow` are left out (pass the query's own row).
    std::vector<Neighbour> query(const float* vector, int k, std::int64_t excludeRow = -1) const;
    /// The k nearest other rows to row `row`.
    std::vector<Neighbour> queryRow(std::int64_t row, int k) const;
    /// One result list per row of `queries` ([Q, D] float32).
    std::vector<std::vector<Neighbour>> queryBatch(const Matrix& queries, int k) const;
    /// The kNN graph: each row's k nearest other rows. Progress in rows.
    std::vector<std::vector<Neighbour>> allRows(int k, const ProgressFn& progress = {},
                                                const CancelToken* cancel = nullptr) const;
    /// The same graph, held flat (KnnGraph): what t-SNE and UMAP use, so that a 10^6-row graph
    /// is never held as per-row lists. Throws core::Error above 2^31 - 1 rows.
    KnnGraph graph(int k, const ProgressFn& progress = {}, const CancelToken* cancel = nullptr) const;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

/// Where the FAISS index of `embeddingsFile` is saved: "<file>.faiss" beside it.
std::filesystem::path faissIndexPath(const std::filesystem::path& embeddingsFile);

/// Exact k nearest rows of `base` ([N, D]) for every row of `queries` ([Q, D]), using
/// blocked matrix products and top-k selection. With `excludeSelf`, `queries` must be
/// `base` and each row's own index is left out.
std::vector<std::vector<Neighbour>> exactKnn(const MatrixView& base, const Matrix& queries, int k, Metric metric,
                                             bool excludeSelf = false, const ProgressFn& progress = {},
                                             const CancelToken* cancel = nullptr);

/// Fraction of `truth`'s rows (first k of each list) that `found` also returns.
double recallAtK(const std::vector<std::vector<Neighbour>>& found, const std::vector<std::vector<Neighbour>>& truth,
                 int k);

} // namespace vitrine::core::analysis
