// t-SNE with sparse input affinities from the 3*perplexity nearest neighbours (van der
// Maaten, "Accelerating t-SNE using tree-based algorithms", JMLR 2014), repulsive forces
// either by FFT-accelerated polynomial interpolation on a grid (Linderman et al.,
// "Fast interpolation-based t-SNE", Nature Methods 2019; FIt-SNE's 2-D scheme) or by a
// Barnes-Hut quadtree, and gradient descent with momentum and gains.
#include <algorithm>
#include <cmath>
#include <complex>
#include <numeric>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "core/analysis/projection.h"
#include "core/common/runtime.h"

namespace vitrine::core::analysis {

namespace {

// Per-iteration work per point is a few hundred nanoseconds; below this many points a
// parallel region's fork/join (OpenMP spin-waits on shared cores) costs more than it saves.
constexpr std::int64_t kPointsPerTask = 8192;

struct SparseRows {
    std::vector<std::int64_t> start; // N + 1
    std::vector<std::int32_t> col;
    std::vector<float> value;
};

// Conditional affinities p_{j|i} with a per-row Gaussian bandwidth found by bisection so
// the row's entropy equals log(perplexity); then symmetrised P = (P + P^T) / 2N. The graph is
// consumed: its distances are overwritten with p_{j|i}, and it is released before P is
// compacted, so that at 10^6 rows and 90 neighbours the peak is the graph (720 MB) plus P's
// two directions (1.44 GB), with no list of (row, col, value) triples to sort.
SparseRows inputAffinities(KnnGraph&& knn, double perplexity) {
    const std::int64_t n = knn.rows;
    const int k = knn.k;
    const double target = std::log(perplexity);
    at::parallel_for(0, n, 64, [&](std::int64_t b, std::int64_t e) {
        std::vector<double> d2(static_cast<std::size_t>(k)), p(static_cast<std::size_t>(k));
        for (std::int64_t i = b; i < e; ++i) {
            const auto m = static_cast<std::size_t>(knn.count(i));
            float* dist = knn.distancesOf(i);
            for (std::size_t j = 0; j < m; ++j)
                d2[j] = double(dist[j]) * dist[j];
            const double dmin = m == 0 ? 0.0 : d2.front(); // lists are nearest first
            double beta = 1.0, lo = 0.0, hi = std::numeric_limits<double>::infinity();
            for (int it = 0; it < 200; ++it) {
                double sum = 0.0, h = 0.0;
                for (std::size_t j = 0; j < m; ++j) {
                    // shifted by the nearest distance for stability; cancels in the normalisation
                    p[j] = std::exp(-beta * (d2[j] - dmin));
                    sum += p[j];
                }
                for (std::size_t j = 0; j < m; ++j)
                    h += beta * (d2[j] - dmin) * p[j];
                h = h / sum + std::log(sum);
                if (std::abs(h - target) < 1e-5)
                    break;
                if (h > target) {
                    lo = beta;
                    beta = std::isinf(hi) ? beta * 2.0 : (beta + hi) / 2.0;
                } else {
                    hi = beta;
                    beta = (beta + lo) / 2.0;
                }
            }
            const double sum = std::accumulate(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(m), 0.0);
            for (std::size_t j = 0; j < m; ++j)
                dist[j] = static_cast<float>(p[j] / sum);
        }
    });
    // Symmetrise: every edge i -> j is written into row i and row j (CSR with both
    // directions), then each row is sorted by column and its duplicate pair merged.
    SparseRows p;
    p.start.assign(static_cast<std::size_t>(n + 1), 0);
    for (std::int64_t i = 0; i < n; ++i) {
        const int m = knn.count(i);
        p.start[static_cast<std::size_t>(i) + 1] += m;
        for (int j = 0; j < m; ++j)
            ++p.start[static_cast<std::size_t>(knn.idsOf(i)[j]) + 1];
    }
    for (std::size_t i = 1; i < p.start.size(); ++i)
        p.start[i] += p.start[i - 1];
    const auto total = static_cast<std::size_t>(p.start.back());
    p.col.resize(total);
    p.value.resize(total);
    {
        std::vector<std::int64_t> fill(p.start.begin(), p.start.end() - 1);
        for (std::int64_t i = 0; i < n; ++i) {
            const int m = knn.count(i);
            for (int j = 0; j < m; ++j) {
                const std::int32_t to = knn.idsOf(i)[j];
                const float v = knn.distancesOf(i)[j];
                auto& a = fill[static_cast<std::size_t>(i)];
                p.col[static_cast<std::size_t>(a)] = to;
                p.value[static_cast<std::size_t>(a++)] = v;
                auto& b = fill[static_cast<std::size_t>(to)];
                p.col[static_cast<std::size_t>(b)] = static_cast<std::int32_t>(i);
                p.value[static_cast<std::size_t>(b++)] = v;
            }
        }
    }
    knn = KnnGraph();
    // Per row: sort by column, merge the (at most two) entries of a pair; count what is kept.
    const float scale = 1.0f / (2.0f * static_cast<float>(n));
    std::vector<std::int64_t> kept(static_cast<std::size_t>(n));
    at::parallel_for(0, n, 256, [&](std::int64_t b, std::int64_t e) {
        std::vector<std::pair<std::int32_t, float>> row;
        for (std::int64_t i = b; i < e; ++i) {
            const auto s0 = static_cast<std::size_t>(p.start[static_cast<std::size_t>(i)]);
            const auto s1 = static_cast<std::size_t>(p.start[static_cast<std::size_t>(i) + 1]);
            row.clear();
            for (std::size_t t = s0; t < s1; ++t)
                row.emplace_back(p.col[t], p.value[t]);
            std::sort(row.begin(), row.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
            std::size_t out = s0;
            for (std::size_t t = 0; t < row.size();) {
                std::size_t u = t;
                float v = 0.0f;
                while (u < row.size() && row[u].first == row[t].first)
                    v += row[u++].second;
                p.col[out] = row[t].first;
                p.value[out++] = v * scale;
                t = u;
            }
            kept[static_cast<std::size_t>(i)] = static_cast<std::int64_t>(out - s0);
        }
    });
    // Close the gaps left by merged pairs (entries only move towards the front).
    std::size_t write = 0;
    for (std::int64_t i = 0; i < n; ++i) {
        const auto from = static_cast<std::size_t>(p.start[static_cast<std::size_t>(i)]);
        const auto m = static_cast<std::size_t>(kept[static_cast<std::size_t>(i)]);
        if (write != from) {
            std::copy_n(p.col.begin() + static_cast<std::ptrdiff_t>(from), m,
                        p.col.begin() + static_cast<std::ptrdiff_t>(write));
            std::copy_n(p.value.begin() + static_cast<std::ptrdiff_t>(from), m,
                        p.value.begin() + static_cast<std::ptrdiff_t>(write));
        }
        p.start[static_cast<std::size_t>(i)] = static_cast<std::int64_t>(write);
        write += m;
    }
    p.start[static_cast<std::size_t>(n)] = static_cast<std::int64_t>(write);
    p.col.resize(write);
    p.value.resize(write);
    return p;
}

// Quadtree over the layout, rebuilt every iteration by recursive partitioning (deterministic).
class QuadTree {
public:
    struct Node {
        float cx, cy, halfWidth;
        float comX = 0, comY = 0;
        std::int32_t count = 0;
        std::int32_t firstChild = -1;    // four consecutive nodes; -1 = leaf
        std::int32_t begin = 0, end = 0; // leaf: range in m_order
    };

    void build(const float* y, std::int64_t n) {
        m_y = y;
        m_nodes.clear();
        m_order.resize(static_cast<std::size_t>(n));
        std::iota(m_order.begin(), m_order.end(), 0);
        float minX = y[0], maxX = y[0], minY = y[1], maxY = y[1];
        for (std::int64_t i = 1; i < n; ++i) {
            minX = std::min(minX, y[2 * i]);
            maxX = std::max(maxX, y[2 * i]);
            minY = std::min(minY, y[2 * i + 1]);
            maxY = std::max(maxY, y[2 * i + 1]);
        }
        const float hw = std::max(maxX - minX, maxY - minY) * 0.5f * 1.0001f + 1e-6f;
        m_nodes.push_back({(minX + maxX) * 0.5f, (minY + maxY) * 0.5f, hw});
        split(0, 0, static_cast<std::int32_t>(n), 0);
    }

    // Repulsive force on point i (negative gradient direction summed over all j != i
    // of q_ij^2 Z (y_i - y_j)) and its contribution to Z.
    void repulsion(std::int64_t i, float theta2, double& fx, double& fy, double& sumQ) const {
        const float xi = m_y[2 * i], yi = m_y[2 * i + 1];
        std::int32_t stack[512];
        int top = 0;
        stack[top++] = 0;
        while (top > 0) {
            const Node& nd = m_nodes[static_cast<std::size_t>(stack[--top])];
            if (nd.count == 0)
                continue;
            if (nd.firstChild < 0) {
                for (std::int32_t k = nd.begin; k < nd.end; ++k) {
                    const std::int32_t j = m_order[static_cast<std::size_t>(k)];
                    if (j == i)
                        continue;
                    const float dx = xi - m_y[2 * j], dy = yi - m_y[2 * j + 1];
                    const float q = 1.0f / (1.0f + dx * dx + dy * dy);
                    sumQ += q;
                    fx += q * q * dx;
                    fy += q * q * dy;
                }
                continue;
            }
            const float dx = xi - nd.comX, dy = yi - nd.comY;
            const float d2 = dx * dx + dy * dy;
            const float w = 2.0f * nd.halfWidth;
            if (w * w < theta2 * d2) {
                const float q = 1.0f / (1.0f + d2);
                const float mult = static_cast<float>(nd.count) * q;
                sumQ += mult;
                fx += mult * q * dx;
                fy += mult * q * dy;
            } else {
                for (int c = 0; c < 4; ++c)
                    stack[top++] = nd.firstChild + c;
            }
        }
    }

private:
    static constexpr int kMaxDepth = 40;
    static constexpr std::int32_t kLeafCapacity = 1;

    void split(std::int32_t node, std::int32_t begin, std::int32_t end, int depth) {
        {
            Node& nd = m_nodes[static_cast<std::size_t>(node)];
            nd.begin = begin;
            nd.end = end;
            nd.count = end - begin;
            double sx = 0, sy = 0;
            for (std::int32_t k = begin; k < end; ++k) {
                const auto j = m_order[static_cast<std::size_t>(k)];
                sx += m_y[2 * j];
                sy += m_y[2 * j + 1];
            }
            if (nd.count > 0) {
                nd.comX = static_cast<float>(sx / nd.count);
                nd.comY = static_cast<float>(sy / nd.count);
            }
            if (nd.count <= kLeafCapacity || depth >= kMaxDepth)
                return;
        }
        const Node parent = m_nodes[static_cast<std::size_t>(node)];
        auto* first = m_order.data() + begin;
        auto* last = m_order.data() + end;
        const float* y = m_y;
        auto* midY = std::partition(first, last, [&](std::int32_t j) { return y[2 * j + 1] < parent.cy; });
        auto* midX0 = std::partition(first, midY, [&](std::int32_t j) { return y[2 * j] < parent.cx; });
        auto* midX1 = std::partition(midY, last, [&](std::int32_t j) { return y[2 * j] < parent.cx; });
        const std::int32_t firstChild = static_cast<std::int32_t>(m_nodes.size());
        const float h = parent.halfWidth * 0.5f;
        m_nodes.push_back({parent.cx - h, parent.cy - h, h});
        m_nodes.push_back({parent.cx + h, parent.cy - h, h});
        m_nodes.push_back({parent.cx - h, parent.cy + h, h});
        m_nodes.push_back({parent.cx + h, parent.cy + h, h});
        m_nodes[static_cast<std::size_t>(node)].firstChild = firstChild;
        const auto at = [&](std::int32_t* p) { return static_cast<std::int32_t>(p - m_order.data()); };
        split(firstChild + 0, begin, at(midX0), depth + 1);
        split(firstChild + 1, at(midX0), at(midY), depth + 1);
        split(firstChild + 2, at(midY), at(midX1), depth + 1);
        split(firstChild + 3, at(midX1), end, depth + 1);
    }

    const float* m_y = nullptr;
    std::vector<Node> m_nodes;
    std::vector<std::int32_t> m_order;
};

// FIt-SNE's 2-D repulsion: all four potentials sum_j K(y_i, y_j) c(j) with the squared
// Cauchy kernel K = (1 + |y_i - y_j|^2)^-2 and charges c = (1, y_x, y_y, |y|^2) are
// interpolated from a uniform grid (3 Lagrange nodes per box, boxes <= 1 unit wide), where
// the kernel sum is a Toeplitz product done by FFT. From them, Z and the forces follow.
class FftRepulsion {
public:
    // Fills force (2 per point, not yet divided by Z) and returns Z.
    double compute(const float* y, std::int64_t n, std::vector<float>& force) {
        constexpr int kNodes = 3;
        float lo = y[0], hi = y[0];
        for (std::int64_t i = 0; i < 2 * n; ++i) {
            lo = std::min(lo, y[i]);
            hi = std::max(hi, y[i]);
        }
        hi += 1e-4f * std::max(1.0f, hi - lo); // keep the top point inside the last box
        int boxes = std::max(50, static_cast<int>(std::ceil(hi - lo)));
        boxes = fftFriendly(boxes);
        const int g = boxes * kNodes; // grid points per dimension
        const double boxWidth = (static_cast<double>(hi) - lo) / boxes;
        const double spacing = boxWidth / kNodes;

        // Spread the charges onto the grid with the Lagrange weights of each point's box.
        std::vector<std::int32_t> cell(static_cast<std::size_t>(2 * n));
        std::vector<float> weight(static_cast<std::size_t>(2 * n * kNodes));
        auto grid = torch::zeros({4, 2 * g, 2 * g}, torch::kFloat64);
        double* gp = grid.data_ptr<double>();
        const std::int64_t plane = std::int64_t(2 * g) * (2 * g);
        // Calls f(grid offset, weight) for the kNodes x kNodes grid nodes point i spreads to
        // and gathers from: the same stencil both ways.
        auto forEachNode = [&](std::int64_t i, auto&& f) {
            const float* wx = &weight[(2 * i) * kNodes];
            const float* wy = &weight[(2 * i + 1) * kNodes];
            for (int a = 0; a < kNodes; ++a)
                for (int b = 0; b < kNodes; ++b)
                    f(std::int64_t(cell[2 * i + 1] + b) * (2 * g) + cell[2 * i] + a, double(wx[a]) * wy[b]);
        };
        for (std::int64_t i = 0; i < n; ++i) {
            for (int d = 0; d < 2; ++d) {
                const double rel = (y[2 * i + d] - lo) / boxWidth;
                const int box = std::clamp(static_cast<int>(rel), 0, boxes - 1);
                cell[2 * i + d] = box * kNodes;
                lagrange(rel - box, &weight[(2 * i + d) * kNodes]);
            }
            const double charges[4] = {1.0, y[2 * i], y[2 * i + 1],
                                       double(y[2 * i]) * y[2 * i] + double(y[2 * i + 1]) * y[2 * i + 1]};
            forEachNode(i, [&](std::int64_t at, double w) {
                for (int c = 0; c < 4; ++c)
                    gp[c * plane + at] += w * charges[c];
            });
        }
        // Circulant embedding of the Toeplitz kernel over grid offsets.
        auto kernel = torch::empty({2 * g, 2 * g}, torch::kFloat64);
        double* kp = kernel.data_ptr<double>();
        for (int r = 0; r < 2 * g; ++r) {
            const int dr = r <= g ? r : 2 * g - r;
            for (int c = 0; c < 2 * g; ++c) {
                const int dc = c <= g ? c : 2 * g - c;
                const double d2 = (double(dr) * dr + double(dc) * dc) * spacing * spacing;
                const double k = 1.0 / (1.0 + d2);
                kp[r * 2 * g + c] = (r == g || c == g) ? 0.0 : k * k;
            }
        }
        // The spectral product is done in place and serially: ATen would split this ~1 ms of
        // work across OpenMP threads, whose spin-waits cost far more than the work when the
        // cores are shared.
        auto spectrum = torch::fft::rfft2(grid).contiguous();
        auto kernelSpectrum = torch::fft::rfft2(kernel).contiguous();
        {
            auto* sp = reinterpret_cast<std::complex<double>*>(spectrum.data_ptr());
            const auto* kp2 = reinterpret_cast<const std::complex<double>*>(kernelSpectrum.data_ptr());
            const std::int64_t perPlane = kernelSpectrum.numel();
            for (int c = 0; c < 4; ++c)
                for (std::int64_t m = 0; m < perPlane; ++m)
                    sp[c * perPlane + m] *= kp2[m];
        }
        auto pot = torch::fft::irfft2(spectrum, torch::IntArrayRef{2 * g, 2 * g}).contiguous();
        const double* pp = pot.data_ptr<double>();

        // Interpolate the potentials back to the points.
        std::vector<double> zPart(static_cast<std::size_t>(n));
        at::parallel_for(0, n, kPointsPerTask, [&](std::int64_t b0, std::int64_t e0) {
            for (std::int64_t i = b0; i < e0; ++i) {
                double phi[4] = {};
                forEachNode(i, [&](std::int64_t at, double w) {
                    for (int c = 0; c < 4; ++c)
                        phi[c] += w * pp[c * plane + at];
                });
                const double yx = y[2 * i], yy = y[2 * i + 1];
                zPart[static_cast<std::size_t>(i)] = (1.0 + yx * yx + yy * yy) * phi[0] -
                                                     2.0 * (yx * phi[1] + yy * phi[2]) + phi[3];
                force[2 * i] = static_cast<float>(yx * phi[0] - phi[1]);
                force[2 * i + 1] = static_cast<float>(yy * phi[0] - phi[2]);
            }
        });
        // Each point's own term contributes exactly 1 to its zPart.
        return std::accumulate(zPart.begin(), zPart.end(), 0.0) - static_cast<double>(n);
    }

private:
    // Weights of the 3 equispaced nodes at (k + 1/2) / 3 of a unit box for position t.
    static void lagrange(double t, float* w) {
        constexpr double s0 = 1.0 / 6.0, s1 = 0.5, s2 = 5.0 / 6.0;
        w[0] = static_cast<float>((t - s1) * (t - s2) / ((s0 - s1) * (s0 - s2)));
        w[1] = static_cast<float>((t - s0) * (t - s2) / ((s1 - s0) * (s1 - s2)));
        w[2] = static_cast<float>((t - s0) * (t - s1) / ((s2 - s0) * (s2 - s1)));
    }

    // Next box count whose padded grid (6 * boxes) has only factors 2, 3, 5.
    static int fftFriendly(int boxes) {
        for (;; ++boxes) {
            int m = boxes;
            for (int p : {2, 3, 5})
                while (m % p == 0)
                    m /= p;
            if (m == 1)
                return boxes;
        }
    }
};

} // namespace

Matrix tsne(const MatrixView& data, const TsneOptions& options, const ProgressFn& progress, const CancelToken* cancel) {
    const std::int64_t n = data.rows;
    TORCH_CHECK(n >= 4, "t-SNE needs at least 4 rows");
    TORCH_CHECK(options.theta > 0.0 && options.theta <= 0.7, "t-SNE theta must be in (0, 0.7]");
    const double perplexity = std::min(options.perplexity, (n - 1) / 3.0);
    const int k = static_cast<int>(std::min<std::int64_t>(n - 1, static_cast<std::int64_t>(3.0 * perplexity)));
    report(progress, 0, 1, StageKind::Neighbours);
    NeighbourOptions no;
    no.metric = options.metric;
    no.threads = options.threads;
    no.seed = options.seed;
    // The index (FAISS keeps its own copy of the rows above 200,000) is gone at the end of
    // this statement, before the affinities are built.
    KnnGraph knn = NeighbourIndex(data, no, progress, cancel).graph(k, progress, cancel);
    if (options.metric == Metric::Cosine) // affinities use squared Euclidean of unit vectors
        for (float& d : knn.distances)
            d = std::sqrt(std::max(0.0f, 2.0f * d));
    report(progress, 1, 1, StageKind::Neighbours);
    if (cancel)
        cancel->check();
    const SparseRows p = inputAffinities(std::move(knn), perplexity);

    Matrix y;
    if (options.init) {
        TORCH_CHECK(options.init->rows == n && options.init->cols == 2, "t-SNE init must be [N, 2]");
        y = *options.init;
    } else {
        PcaOptions po;
        po.seed = options.seed;
        y = pca(data, po, {}, cancel);
        double mean = 0, var = 0;
        for (std::int64_t i = 0; i < n; ++i)
            mean += y(i, 0);
        mean /= n;
        for (std::int64_t i = 0; i < n; ++i)
            var += (y(i, 0) - mean) * (y(i, 0) - mean);
        const float scale = static_cast<float>(1e-4 / std::max(1e-12, std::sqrt(var / n)));
        for (float& v : y.data)
            v *= scale;
    }

    const double lr = options.learningRate > 0 ? options.learningRate
                                               : std::max(static_cast<double>(n) / options.earlyExaggeration, 50.0);
    const float theta2 = static_cast<float>(options.theta * options.theta);
    std::vector<float> update(y.data.size(), 0.0f), gains(y.data.size(), 1.0f), grad(y.data.size());
    std::vector<double> sumQ(static_cast<std::size_t>(n));
    QuadTree tree;
    FftRepulsion fft;
    const int iterations = std::max(0, options.iterations);
    const int early = std::min(iterations, std::max(0, options.earlyExaggerationIterations));
    for (int it = 0; it < iterations; ++it) {
        if (cancel)
            cancel->check();
        if (it == early) { // second phase starts from a fresh optimiser state, as in sklearn
            std::fill(update.begin(), update.end(), 0.0f);
            std::fill(gains.begin(), gains.end(), 1.0f);
        }
        const float exaggeration = it < early ? static_cast<float>(options.earlyExaggeration) : 1.0f;
        const float momentum = it < early ? 0.5f : 0.8f;
        float* yp = y.data.data();
        double z = 0.0;
        if (options.method == TsneOptions::Method::FftInterpolation) {
            z = fft.compute(yp, n, grad);
        } else {
            tree.build(yp, n);
            at::parallel_for(0, n, kPointsPerTask, [&](std::int64_t b, std::int64_t e) {
                for (std::int64_t i = b; i < e; ++i) {
                    double fx = 0, fy = 0, q = 0;
                    tree.repulsion(i, theta2, fx, fy, q);
                    sumQ[static_cast<std::size_t>(i)] = q;
                    grad[2 * i] = static_cast<float>(fx);
                    grad[2 * i + 1] = static_cast<float>(fy);
                }
            });
            z = std::accumulate(sumQ.begin(), sumQ.end(), 0.0);
        }
        const float invZ = static_cast<float>(1.0 / std::max(z, 1e-300));
        at::parallel_for(0, n, kPointsPerTask, [&](std::int64_t b, std::int64_t e) {
            for (std::int64_t i = b; i < e; ++i) {
                float ax = 0, ay = 0;
                const float xi = yp[2 * i], yi = yp[2 * i + 1];
                for (auto m = p.start[static_cast<std::size_t>(i)]; m < p.start[static_cast<std::size_t>(i) + 1]; ++m) {
                    const auto j = p.col[static_cast<std::size_t>(m)];
                    const float dx = xi - yp[2 * j], dy = yi - yp[2 * j + 1];
                    const float w = p.value[static_cast<std::size_t>(m)] / (1.0f + dx * dx + dy * dy);
                    ax += w * dx;
                    ay += w * dy;
                }
                grad[2 * i] = exaggeration * ax - grad[2 * i] * invZ;
                grad[2 * i + 1] = exaggeration * ay - grad[2 * i + 1] * invZ;
            }
        });
        double mx = 0, my = 0;
        for (std::size_t m = 0; m < grad.size(); ++m) {
            const bool sameSign = (grad[m] > 0) == (update[m] > 0);
            gains[m] = std::max(0.01f, sameSign ? gains[m] * 0.8f : gains[m] + 0.2f);
            update[m] = momentum * update[m] - static_cast<float>(lr) * gains[m] * grad[m];
            yp[m] += update[m];
        }
        for (std::int64_t i = 0; i < n; ++i) {
            mx += yp[2 * i];
            my += yp[2 * i + 1];
        }
        const float cx = static_cast<float>(mx / n), cy = static_cast<float>(my / n);
        for (std::int64_t i = 0; i < n; ++i) {
            yp[2 * i] -= cx;
            yp[2 * i + 1] -= cy;
        }
        if ((it + 1) % 10 == 0 || it + 1 == iterations)
            report(progress, it + 1, iterations, StageKind::Optimising);
    }
    return y;
}

} // namespace vitrine::core::analysis
