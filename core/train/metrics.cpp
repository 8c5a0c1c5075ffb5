#include "core/train/metrics.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace vitrine::core::train {

RetrievalMetrics retrievalMetricsFromRanking(const std::vector<std::vector<int>>& neighbours,
                                             const std::vector<int>& labels, int knnK) {
    if (neighbours.size() != labels.size())
        throw std::invalid_argument("retrievalMetrics: one neighbour list per label expected");
    if (knnK < 1)
        throw std::invalid_argument("retrievalMetrics: k must be >= 1");
    const std::size_t n = labels.size();
    std::map<int, std::size_t> classSize;
    for (int l : labels)
        ++classSize[l];

    RetrievalMetrics m;
    m.knnK = knnK;
    m.rows = n;
    double p1 = 0, rp = 0, map = 0, knn = 0;
    for (std::size_t q = 0; q < n; ++q) {
        const auto& nb = neighbours[q];
        const int label = labels[q];
        const std::size_t r = classSize[label] - 1;

        // k-NN vote.
        std::map<int, std::pair<int, std::size_t>> votes; // label -> (count, best rank)
        const std::size_t k = std::min<std::size_t>(std::size_t(knnK), nb.size());
        for (std::size_t i = 0; i < k; ++i) {
            auto& v = votes.try_emplace(labels[std::size_t(nb[i])], 0, i).first->second;
            ++v.first;
        }
        int best = -1;
        std::pair<int, std::size_t> bestVote{-1, 0};
        for (const auto& [l, v] : votes)
            if (v.first > bestVote.first || (v.first == bestVote.first && v.second < bestVote.second)) {
                best = l;
                bestVote = v;
            }
        knn += best == label ? 1.0 : 0.0;

        if (r == 0)
            continue;
        if (nb.size() < r)
            throw std::invalid_argument("retrievalMetrics: neighbour list shorter than R");
        ++m.queries;
        p1 += labels[std::size_t(nb[0])] == label ? 1.0 : 0.0;
        std::size_t hits = 0;
        double ap = 0;
        for (std::size_t i = 0; i < r; ++i)
            if (labels[std::size_t(nb[i])] == label) {
                ++hits;
                ap += double(hits) / double(i + 1);
            }
        rp += double(hits) / double(r);
        map += ap / double(r);
    }
    if (m.queries > 0) {
        m.precisionAt1 = p1 / double(m.queries);
        m.rPrecision = rp / double(m.queries);
        m.mapAtR = map / double(m.queries);
    }
    if (n > 0)
        m.knnAccuracy = knn / double(n);
    return m;
}

RetrievalMetrics retrievalMetrics(const std::vector<float>& rows, std::size_t dim, const std::vector<int>& labels,
                                  int knnK) {
    const std::size_t n = labels.size();
    if (dim == 0 || rows.size() != n * dim)
        throw std::invalid_argument("retrievalMetrics: rows must hold labels.size() x dim floats");
    std::vector<double> unit(rows.size());
    for (std::size_t i = 0; i < n; ++i) {
        double s = 0;
        for (std::size_t j = 0; j < dim; ++j)
            s += double(rows[i * dim + j]) * rows[i * dim + j];
        const double inv = s > 0 ? 1.0 / std::sqrt(s) : 0.0;
        for (std::size_t j = 0; j < dim; ++j)
            unit[i * dim + j] = rows[i * dim + j] * inv;
    }
    std::vector<std::vector<int>> neighbours(n);
    std::vector<double> dist(n);
    for (std::size_t q = 0; q < n; ++q) {
        for (std::size_t i = 0; i < n; ++i) {
            double s = 0;
            for (std::size_t j = 0; j < dim; ++j) {
                const double diff = unit[q * dim + j] - unit[i * dim + j];
                s += diff * diff;
            }
            dist[i] = s;
        }
        auto& nb = neighbours[q];
        nb.reserve(n - 1);
        for (std::size_t i = 0; i < n; ++i)
            if (i != q)
                nb.push_back(int(i));
        std::stable_sort(nb.begin(), nb.end(),
                         [&](int a, int b) { return dist[std::size_t(a)] < dist[std::size_t(b)]; });
    }
    return retrievalMetricsFromRanking(neighbours, labels, knnK);
}

nlohmann::json retrievalMetricsJson(const RetrievalMetrics& m, bool withCounts) {
    nlohmann::json j = {{"precision_at_1", m.precisionAt1},
                        {"r_precision", m.rPrecision},
                        {"map_at_r", m.mapAtR},
                        {"knn_accuracy", m.knnAccuracy}};
    if (withCounts) {
        j["knn_k"] = m.knnK;
        j["queries"] = m.queries;
    }
    return j;
}

} // namespace vitrine::core::train
