#pragma once
// Seeded synthetic embeddings for the analysis tests.
#include <cstdint>
#include <random>

#include "core/common/matrix.h"

namespace vitrine::test {

/// n points in d dimensions from `clusters` Gaussian clusters: centres ~ spread * N(0, I),
/// unit noise; label of row i is i % clusters (the benchmark peers' construction).
inline core::Matrix gaussianClusters(std::int64_t n, std::int64_t d, int clusters, float spread, std::uint64_t seed,
                                     std::vector<int>* labels = nullptr) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    core::Matrix centres(clusters, d);
    for (float& v : centres.data)
        v = spread * normal(rng);
    core::Matrix x(n, d);
    if (labels)
        labels->resize(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
        const int c = static_cast<int>(i % clusters);
        if (labels)
            (*labels)[static_cast<std::size_t>(i)] = c;
        for (std::int64_t j = 0; j < d; ++j)
            x(i, j) = centres(c, j) + normal(rng);
    }
    return x;
}

} // namespace vitrine::test
