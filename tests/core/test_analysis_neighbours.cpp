#include <algorithm>
#include <cmath>
#include <numeric>

#include <catch2/catch.hpp>

#include "analysis_test_data.h"
#include "core/analysis/neighbours.h"

using namespace vitrine::core;
using namespace vitrine::core::analysis;

namespace {

// Brute force in double precision: every distance, full sort.
std::vector<std::vector<Neighbour>> bruteForce(const Matrix& base, const Matrix& q, int k, Metric metric,
                                               bool excludeSelf) {
    std::vector<std::vector<Neighbour>> out;
    for (std::int64_t i = 0; i < q.rows; ++i) {
        std::vector<std::pair<double, std::int64_t>> all;
        for (std::int64_t j = 0; j < base.rows; ++j) {
            if (excludeSelf && i == j)
                continue;
            double dot = 0, qq = 0, bb = 0, d2 = 0;
            for (std::int64_t c = 0; c < base.cols; ++c) {
                dot += double(q(i, c)) * base(j, c);
                qq += double(q(i, c)) * q(i, c);
                bb += double(base(j, c)) * base(j, c);
                d2 += (double(q(i, c)) - base(j, c)) * (double(q(i, c)) - base(j, c));
            }
            all.push_back({metric == Metric::Cosine ? 1.0 - dot / std::sqrt(qq * bb) : std::sqrt(d2), j});
        }
        std::sort(all.begin(), all.end());
        std::vector<Neighbour> row;
        for (int m = 0; m < k; ++m)
            row.push_back({all[m].second, static_cast<float>(all[m].first)});
        out.push_back(row);
    }
    return out;
}

void requireSame(const std::vector<std::vector<Neighbour>>& got, const std::vector<std::vector<Neighbour>>& want) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        REQUIRE(got[i].size() == want[i].size());
        for (std::size_t j = 0; j < got[i].size(); ++j) {
            // Distances must match; rows must match except among (near-)ties.
            REQUIRE(got[i][j].distance == Approx(want[i][j].distance).margin(2e-4));
            if (j + 1 < want[i].size() && std::abs(want[i][j + 1].distance - want[i][j].distance) > 1e-4 &&
                (j == 0 || std::abs(want[i][j].distance - want[i][j - 1].distance) > 1e-4))
                REQUIRE(got[i][j].row == want[i][j].row);
        }
    }
}

} // namespace

TEST_CASE("exact kNN equals brute force for both metrics", "[analysis][neighbours]") {
    auto base = vitrine::test::gaussianClusters(700, 48, 7, 2.0f, 1);
    auto queries = vitrine::test::gaussianClusters(40, 48, 5, 2.0f, 2);
    for (Metric metric : {Metric::Cosine, Metric::Euclidean}) {
        INFO("metric " << (metric == Metric::Cosine ? "cosine" : "euclidean"));
        NeighbourOptions o;
        o.metric = metric;
        NeighbourIndex index(base, o);
        REQUIRE_FALSE(index.approximate());
        requireSame(index.queryBatch(queries, 9), bruteForce(base, queries, 9, metric, false));
        requireSame(index.allRows(5), bruteForce(base, base, 5, metric, true));
        auto one = index.queryRow(17, 6);
        REQUIRE(one.size() == 6);
        REQUIRE(std::none_of(one.begin(), one.end(), [](const Neighbour& nb) { return nb.row == 17; }));
        requireSame({index.query(queries.row(3), 9)}, {bruteForce(base, queries, 9, metric, false)[3]});
    }
}

TEST_CASE("k larger than the set returns every other row", "[analysis][neighbours]") {
    auto base = vitrine::test::gaussianClusters(5, 3, 2, 1.0f, 3);
    NeighbourIndex index(base);
    REQUIRE(index.queryRow(0, 10).size() == 4);
    REQUIRE(index.query(base.row(0), 10).size() == 5);
}

TEST_CASE("approximate index reaches recall@10 >= 0.95 on clustered data", "[analysis][neighbours]") {
    auto base = vitrine::test::gaussianClusters(5000, 64, 50, 1.0f, 4);
    auto queries = vitrine::test::gaussianClusters(200, 64, 50, 1.0f, 5);
    for (Metric metric : {Metric::Cosine, Metric::Euclidean}) {
        NeighbourOptions o;
        o.metric = metric;
        o.approximateAbove = 1000; // the size threshold switches the index kind
        NeighbourIndex index(base, o);
        REQUIRE(index.approximate());
        auto truth = exactKnn(base, queries, 10, metric);
        const double recall = recallAtK(index.queryBatch(queries, 10), truth, 10);
        INFO("recall " << recall);
        REQUIRE(recall >= 0.95);
        REQUIRE(index.efSearch() == 128);
        REQUIRE(index.probedRecall() < 0);
        // Row queries leave the row itself out.
        auto hits = index.queryRow(42, 10);
        REQUIRE(hits.size() == 10);
        REQUIRE(std::none_of(hits.begin(), hits.end(), [](const Neighbour& nb) { return nb.row == 42; }));
        REQUIRE(std::is_sorted(hits.begin(), hits.end(), [](auto& a, auto& b) { return a.distance < b.distance; }));
    }
}

TEST_CASE("automatic ef reaches its recall on queries drawn like the indexed rows", "[analysis][neighbours]") {
    // One draw split in two: same clusters for the index and the queries.
    auto all = vitrine::test::gaussianClusters(5200, 64, 50, 4.0f, 7);
    Matrix base(5000, 64), queries(200, 64);
    std::copy_n(all.data.begin(), base.data.size(), base.data.begin());
    std::copy_n(all.data.begin() + static_cast<std::ptrdiff_t>(base.data.size()), queries.data.size(),
                queries.data.begin());
    NeighbourOptions o;
    o.forceApproximate = true;
    o.hnswEfSearch = 0;
    NeighbourIndex index(base, o);
    const double recall = recallAtK(index.queryBatch(queries, 10), exactKnn(base, queries, 10, o.metric), 10);
    INFO("recall " << recall << " at automatic ef " << index.efSearch() << " (probe " << index.probedRecall() << ")");
    REQUIRE(index.efSearch() >= 16);
    REQUIRE(index.probedRecall() >= o.hnswTargetRecall);
    REQUIRE(recall >= 0.95);
    // Every row was inserted, the held-back probes included.
    for (std::int64_t row : {std::int64_t(12), std::int64_t(2500), std::int64_t(4990)}) {
        auto hits = index.query(&base.data[static_cast<std::size_t>(row * 64)], 1);
        REQUIRE(hits.front().row == row);
    }
}

TEST_CASE("building an index can be cancelled", "[analysis][neighbours]") {
    auto base = vitrine::test::gaussianClusters(3000, 16, 5, 1.0f, 6);
    CancelToken cancel;
    cancel.cancel();
    NeighbourOptions o;
    o.forceApproximate = true;
    REQUIRE_THROWS_AS(NeighbourIndex(base, o, {}, &cancel), Cancelled);
    NeighbourIndex exact(base);
    REQUIRE_THROWS_AS(exact.allRows(5, {}, &cancel), Cancelled);
}
