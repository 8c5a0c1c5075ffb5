#pragma once
// Retrieval metrics for embeddings, as defined in Musgrave, Belongie & Lim 2020,
// "A Metric Learning Reality Check": every row is a query against all other rows
// (leave-one-out). Torch-free so the map/neighbours code and the GUI can use it.

#include <cstddef>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace vitrine::core::train {

struct RetrievalMetrics {
    /// Fraction of queries whose nearest other row has the same label.
    double precisionAt1 = 0;
    /// Mean over queries of (same-label rows among the R nearest) / R, where R is the
    /// number of other rows with the query's label.
    double rPrecision = 0;
    /// Mean over queries of (1/R) Σ_{i≤R} P(i)·rel(i): R-Precision that also rewards
    /// putting the correct rows first.
    double mapAtR = 0;
    /// Majority label of the k nearest other rows (ties: the label whose best-ranked
    /// neighbour is nearest) equals the query's label; over all rows.
    double knnAccuracy = 0;
    int knnK = 5;
    /// Queries counted for P@1, R-Precision and MAP@R: those with R ≥ 1. Rows that are
    /// the only one of their label cannot be scored and are skipped there.
    std::size_t queries = 0;
    std::size_t rows = 0;
};

/// rows: n × dim float32, row-major; labels: n class ids. Distance is Euclidean between
/// L2-normalised rows (the same ranking as cosine); ties break by row index, so the
/// result is deterministic. Throws std::invalid_argument on inconsistent sizes.
RetrievalMetrics retrievalMetrics(const std::vector<float>& rows, std::size_t dim, const std::vector<int>& labels,
                                  int knnK = 5);

/// Same with the ranking already done: `neighbours[q]` lists the other rows ordered
/// nearest first (at least max(R, k) of them; all n-1 is always enough).
RetrievalMetrics retrievalMetricsFromRanking(const std::vector<std::vector<int>>& neighbours,
                                             const std::vector<int>& labels, int knnK = 5);

/// The metrics as JSON, under the keys every output uses (checkpoint metadata, `eval --json`,
/// `train --json`): "precision_at_1", "r_precision", "map_at_r", "knn_accuracy", and with
/// `withCounts` also "knn_k" and "queries". Callers add their own context keys.
nlohmann::json retrievalMetricsJson(const RetrievalMetrics& m, bool withCounts = true);

} // namespace vitrine::core::train
