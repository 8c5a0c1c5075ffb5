// UMAP (McInnes, Healy & Melville 2018, arXiv:1802.03426), following umap-learn's
// reference choices: smooth kNN distances (rho, sigma), fuzzy union of the directed
// memberships, edges sampled in proportion to their weight, SGD with negative sampling.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <numeric>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "core/analysis/projection.h"

namespace vitrine::core::analysis {

namespace {

struct Edge {
    std::int32_t head, tail;
    float weight;
};

// The directed membership strengths of each point's neighbours (umap-learn's
// smooth_knn_dist + compute_membership_strengths, local_connectivity = 1).
std::vector<std::vector<float>> memberships(const std::vector<std::vector<Neighbour>>& knn, int nNeighbours) {
    const auto n = static_cast<std::int64_t>(knn.size());
    const double target = std::log2(static_cast<double>(nNeighbours));
    double meanAll = 0.0;
    std::size_t countAll = 0;
    for (const auto& row : knn)
        for (const auto& nb : row) {
            meanAll += nb.distance;
            ++countAll;
        }
    meanAll = countAll ? meanAll / countAll : 0.0;
    std::vector<std::vector<float>> out(knn.size());
    at::parallel_for(0, n, 64, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t i = b; i < e; ++i) {
            const auto& row = knn[static_cast<std::size_t>(i)];
            double rho = 0.0, mean = 0.0;
            for (const auto& nb : row) {
                mean += nb.distance;
                if (rho == 0.0 && nb.distance > 0.0f)
                    rho = nb.distance;
            }
            mean = row.empty() ? 0.0 : mean / (row.size() + 1); // umap-learn's mean includes the self (0)
            double lo = 0.0, hi = std::numeric_limits<double>::infinity(), sigma = 1.0;
            for (int it = 0; it < 64; ++it) {
                double psum = 0.0;
                for (const auto& nb : row) {
                    const double d = nb.distance - rho;
                    psum += d > 0 ? std::exp(-d / sigma) : 1.0;
                }
                if (std::abs(psum - target) < 1e-5)
                    break;
                if (psum > target) {
                    hi = sigma;
                    sigma = (lo + hi) / 2.0;
                } else {
                    lo = sigma;
                    sigma = std::isinf(hi) ? sigma * 2.0 : (lo + hi) / 2.0;
                }
            }
            sigma = std::max(sigma, 1e-3 * (rho > 0.0 ? mean : meanAll));
            auto& w = out[static_cast<std::size_t>(i)];
            w.resize(row.size());
            for (std::size_t j = 0; j < row.size(); ++j) {
                const double d = row[j].distance - rho;
                w[j] = d <= 0.0 || sigma == 0.0 ? 1.0f : static_cast<float>(std::exp(-d / sigma));
            }
        }
    });
    return out;
}

// Symmetric fuzzy union W = A + A^T - A o A^T as a list holding both directions.
std::vector<Edge> fuzzyUnion(const std::vector<std::vector<Neighbour>>& knn, const std::vector<std::vector<float>>& w) {
    std::vector<Edge> directed;
    for (std::size_t i = 0; i < knn.size(); ++i)
        for (std::size_t j = 0; j < knn[i].size(); ++j)
            if (knn[i][j].row != static_cast<std::int64_t>(i) && w[i][j] > 0.0f)
                directed.push_back({static_cast<std::int32_t>(i), static_cast<std::int32_t>(knn[i][j].row), w[i][j]});
    // Each undirected pair {i, j} appears once per direction it was found in.
    std::vector<Edge> both;
    both.reserve(2 * directed.size());
    for (const auto& e : directed) {
        both.push_back(e);
        both.push_back({e.tail, e.head, -e.weight}); // negative marks "from the transpose"
    }
    std::sort(both.begin(), both.end(),
              [](const Edge& a, const Edge& b) { return a.head != b.head ? a.head < b.head : a.tail < b.tail; });
    std::vector<Edge> out;
    out.reserve(both.size());
    for (std::size_t k = 0; k < both.size();) {
        float a = 0.0f, at = 0.0f;
        std::size_t m = k;
        for (; m < both.size() && both[m].head == both[k].head && both[m].tail == both[k].tail; ++m)
            (both[m].weight > 0 ? a : at) = std::abs(both[m].weight);
        out.push_back({both[k].head, both[k].tail, a + at - a * at});
        k = m;
    }
    return out;
}

// splitmix64: small, fast, and the same stream everywhere for a seed.
struct Rng {
    std::uint64_t state;
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
};

inline float clip4(float v) { return std::clamp(v, -4.0f, 4.0f); }

// x^p for x > 0 to ~1e-5 relative: libm's powf was 40% of the SGD's time, and the
// stochastic gradient does not need more digits than this.
inline float fastPow(float x, float p) {
    std::uint32_t bits;
    std::memcpy(&bits, &x, 4);
    const int e = static_cast<int>((bits >> 23) & 255u) - 127;
    bits = (bits & 0x7fffffu) | 0x3f800000u;
    float m;
    std::memcpy(&m, &bits, 4); // m in [1, 2)
    const float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
    const float lnM = 2.0f * t * (1.0f + t2 * (1.0f / 3.0f + t2 * (0.2f + t2 * (1.0f / 7.0f + t2 * (1.0f / 9.0f)))));
    float y = p * (static_cast<float>(e) + lnM * 1.44269504f); // p * log2(x)
    y = std::clamp(y, -125.0f, 125.0f);
    const float fi = std::floor(y), f = (y - fi) * 0.69314718f;
    const float ef = 1.0f +
                     f * (1.0f + f * (0.5f + f * (1.0f / 6.0f +
                                                  f * (1.0f / 24.0f + f * (1.0f / 120.0f + f * (1.0f / 720.0f))))));
    const std::uint32_t scale = static_cast<std::uint32_t>(static_cast<int>(fi) + 127) << 23;
    float s;
    std::memcpy(&s, &scale, 4);
    return ef * s;
}

} // namespace

std::pair<double, double> umapCurve(double minDist, double spread) {
    constexpr int kPoints = 300;
    std::vector<double> x(kPoints), y(kPoints);
    for (int i = 0; i < kPoints; ++i) {
        x[i] = 3.0 * spread * i / (kPoints - 1);
        y[i] = x[i] < minDist ? 1.0 : std::exp(-(x[i] - minDist) / spread);
    }
    // Levenberg-Marquardt on (a, b), like scipy's curve_fit that umap-learn calls.
    double a = 1.0, b = 1.0, lambda = 1e-3;
    auto cost = [&](double aa, double bb) {
        double c = 0;
        for (int i = 0; i < kPoints; ++i) {
            const double r = 1.0 / (1.0 + aa * std::pow(x[i], 2.0 * bb)) - y[i];
            c += r * r;
        }
        return c;
    };
    double current = cost(a, b);
    for (int it = 0; it < 500; ++it) {
        double jtj[2][2] = {}, jtr[2] = {};
        for (int i = 0; i < kPoints; ++i) {
            if (x[i] <= 0.0) // f = 1 and both derivatives vanish at 0
                continue;
            const double p = std::pow(x[i], 2.0 * b);
            const double den = 1.0 + a * p;
            const double r = 1.0 / den - y[i];
            const double ja = -p / (den * den);
            const double jb = -a * p * 2.0 * std::log(x[i]) / (den * den);
            jtj[0][0] += ja * ja;
            jtj[0][1] += ja * jb;
            jtj[1][1] += jb * jb;
            jtr[0] += ja * r;
            jtr[1] += jb * r;
        }
        const double m00 = jtj[0][0] * (1 + lambda), m11 = jtj[1][1] * (1 + lambda), m01 = jtj[0][1];
        const double det = m00 * m11 - m01 * m01;
        if (std::abs(det) < 1e-300)
            break;
        const double da = -(m11 * jtr[0] - m01 * jtr[1]) / det;
        const double db = -(m00 * jtr[1] - m01 * jtr[0]) / det;
        const double na = a + da, nb = b + db;
        const double next = na > 0 && nb > 0 ? cost(na, nb) : std::numeric_limits<double>::infinity();
        if (next < current) {
            const bool done = current - next < 1e-14 * std::max(1.0, current);
            a = na;
            b = nb;
            current = next;
            lambda = std::max(lambda / 10.0, 1e-12);
            if (done)
                break;
        } else {
            lambda *= 10.0;
            if (lambda > 1e12)
                break;
        }
    }
    return {a, b};
}

Matrix umap(const MatrixView& data, const UmapOptions& options, const ProgressFn& progress, const CancelToken* cancel) {
    const std::int64_t n = data.rows;
    TORCH_CHECK(n >= 3, "UMAP needs at least 3 rows");
    const int nNeighbours = static_cast<int>(std::clamp<std::int64_t>(options.neighbours, 2, n));
    report(progress, 0, 1, StageKind::Neighbours);
    NeighbourOptions no;
    no.metric = options.metric;
    no.seed = options.seed;
    auto knn = NeighbourIndex(data, no, progress, cancel).allRows(nNeighbours - 1, progress, cancel);
    report(progress, 1, 1, StageKind::Neighbours);
    if (cancel)
        cancel->check();
    auto edges = fuzzyUnion(knn, memberships(knn, nNeighbours));
    knn.clear();

    const int epochs = options.epochs > 0 ? options.epochs : (n <= 10'000 ? 500 : 200);
    float maxW = 0.0f;
    for (const auto& e : edges)
        maxW = std::max(maxW, e.weight);
    std::erase_if(edges, [&](const Edge& e) { return e.weight < maxW / static_cast<float>(epochs); });

    Matrix y;
    Rng rng{options.seed * 0x2545F4914F6CDD1Dull + 1};
    if (options.init) {
        TORCH_CHECK(options.init->rows == n && options.init->cols == 2, "UMAP init must be [N, 2]");
        y = *options.init;
    } else {
        PcaOptions po;
        po.seed = options.seed;
        y = pca(data, po, {}, cancel);
        // umap-learn: noisy_scale_coords(max 10, noise 1e-4), then each axis onto [0, 10].
        float maxAbs = 1e-12f;
        for (float v : y.data)
            maxAbs = std::max(maxAbs, std::abs(v));
        for (float& v : y.data) {
            const double u1 = (rng.next() >> 11) * 0x1.0p-53, u2 = (rng.next() >> 11) * 0x1.0p-53;
            const double gauss = std::sqrt(-2.0 * std::log(u1 + 1e-300)) * std::cos(2.0 * M_PI * u2);
            v = static_cast<float>(v * 10.0f / maxAbs + 1e-4 * gauss);
        }
        for (int c = 0; c < 2; ++c) {
            float lo = y(0, c), hi = y(0, c);
            for (std::int64_t i = 0; i < n; ++i) {
                lo = std::min(lo, y(i, c));
                hi = std::max(hi, y(i, c));
            }
            for (std::int64_t i = 0; i < n; ++i)
                y(i, c) = 10.0f * (y(i, c) - lo) / std::max(hi - lo, 1e-12f);
        }
    }

    const auto [a, b] = umapCurve(options.minDist, options.spread);
    const float fa = static_cast<float>(a), fb = static_cast<float>(b);
    const float gamma = static_cast<float>(options.repulsion);
    const std::size_t m = edges.size();
    std::vector<float> epochsPerSample(m), nextSample(m), epochsPerNegative(m), nextNegative(m);
    for (std::size_t e = 0; e < m; ++e) {
        epochsPerSample[e] = maxW / edges[e].weight;
        nextSample[e] = epochsPerSample[e];
        epochsPerNegative[e] = epochsPerSample[e] / static_cast<float>(std::max(1, options.negativeSamples));
        nextNegative[e] = epochsPerNegative[e];
    }
    float* yp = y.data.data();
    const auto n32 = static_cast<std::uint64_t>(n);
    // One pass over edges [e0, e1) of an epoch. The positions go through relaxed atomic loads
    // and stores (plain moves on x86): when blocks run on several threads at once, updates to
    // a shared point may be lost, as in umap-learn's parallel SGD (Hogwild), but nothing is torn.
    auto sgd = [&](std::size_t e0, std::size_t e1, float alpha, float ep, Rng& r) {
        auto get = [](float& v) { return std::atomic_ref<float>(v).load(std::memory_order_relaxed); };
        auto add = [](float& v, float d) {
            std::atomic_ref<float> a(v);
            a.store(a.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
        };
        for (std::size_t e = e0; e < e1; ++e) {
            if (nextSample[e] > ep)
                continue;
            const std::int32_t j = edges[e].head, k = edges[e].tail;
            float* cur = yp + 2 * j;
            float* other = yp + 2 * k;
            float cx = get(cur[0]), cy = get(cur[1]);
            float dx = cx - get(other[0]), dy = cy - get(other[1]);
            float d2 = dx * dx + dy * dy;
            if (d2 > 0.0f) {
                const float pw = fastPow(d2, fb - 1.0f);
                const float coeff = -2.0f * fa * fb * pw / (fa * pw * d2 + 1.0f);
                const float gx = clip4(coeff * dx) * alpha, gy = clip4(coeff * dy) * alpha;
                add(cur[0], gx);
                add(cur[1], gy);
                add(other[0], -gx);
                add(other[1], -gy);
                cx += gx;
                cy += gy;
            }
            nextSample[e] += epochsPerSample[e];
            const int negatives = static_cast<int>((ep - nextNegative[e]) / epochsPerNegative[e]);
            for (int s = 0; s < negatives; ++s) {
                const auto rnd = static_cast<std::int64_t>(r.next() % n32);
                if (rnd == j)
                    continue;
                other = yp + 2 * rnd;
                dx = cx - get(other[0]);
                dy = cy - get(other[1]);
                d2 = dx * dx + dy * dy;
                if (d2 > 0.0f) {
                    const float coeff = 2.0f * gamma * fb / ((0.001f + d2) * (fa * fastPow(d2, fb) + 1.0f));
                    const float gx = clip4(coeff * dx) * alpha, gy = clip4(coeff * dy) * alpha;
                    add(cur[0], gx);
                    add(cur[1], gy);
                    cx += gx;
                    cy += gy;
                } // coincident points: no usable direction, umap-learn skips the push too
            }
            nextNegative[e] += static_cast<float>(negatives) * epochsPerNegative[e];
        }
    };
    const bool parallel = n > options.parallelAbove && at::get_num_threads() > 1;
    constexpr std::size_t kEdgesPerBlock = 1 << 14;
    const std::size_t blocks = (m + kEdgesPerBlock - 1) / kEdgesPerBlock;
    for (int epoch = 0; epoch < epochs; ++epoch) {
        if (cancel)
            cancel->check();
        const float alpha = static_cast<float>(options.learningRate * (1.0 - static_cast<double>(epoch) / epochs));
        const float ep = static_cast<float>(epoch);
        if (!parallel) {
            sgd(0, m, alpha, ep, rng);
        } else {
            // Fixed blocks, each with its own random stream, so a run's draws do not depend on
            // how the blocks are spread over threads; only the order of racing updates does.
            at::parallel_for(0, static_cast<std::int64_t>(blocks), 1, [&](std::int64_t b0, std::int64_t b1) {
                for (std::int64_t b = b0; b < b1; ++b) {
                    Rng r{(options.seed + 1) * 0x9E3779B97F4A7C15ull ^
                          (static_cast<std::uint64_t>(epoch) << 32 | static_cast<std::uint64_t>(b))};
                    const std::size_t e0 = static_cast<std::size_t>(b) * kEdgesPerBlock;
                    sgd(e0, std::min(m, e0 + kEdgesPerBlock), alpha, ep, r);
                }
            });
        }
        if ((epoch + 1) % 10 == 0 || epoch + 1 == epochs)
            report(progress, epoch + 1, epochs, StageKind::Optimising);
    }
    return y;
}

} // namespace vitrine::core::analysis
