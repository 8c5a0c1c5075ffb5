#include "core/analysis/neighbours.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <iterator>
#include <thread>
#include <unordered_set>

#include <ATen/Parallel.h>
#include <torch/torch.h>

// hnswlib 0.6.2's SSE prefetch hints in searchBaseLayer read one link past the end of a
// neighbour list (upstream fixed it later). Harmless in a normal build (a hint inside the
// allocation's padding), but AddressSanitizer stops on it, so sanitizer builds compile the
// library without its SSE paths. Vitrine supplies its own distance kernels either way.
#if defined(__SANITIZE_ADDRESS__)
#define NO_MANUAL_VECTORIZATION
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NO_MANUAL_VECTORIZATION
#endif
#endif
#include <hnswlib/hnswlib.h>
#include <limits>

#include "core/analysis/faiss_ivf.h"
#include "core/common/runtime.h"

namespace vitrine::core::analysis {

namespace {

// hnswlib picks its SIMD kernels at compile time, and we build for baseline x86-64; these
// kernels are cloned per ISA and chosen when the program loads. The 16 separate partial
// sums let the compiler vectorise without -ffast-math. Not under ThreadSanitizer: the clones'
// resolver is instrumented and runs while the program is relocated, before the TSan runtime
// is set up, and crashes there (every TSan test binary died at load).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_THREAD__)
#define VITRINE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VITRINE_CLONES
#endif

VITRINE_CLONES float dotKernel(const float* a, const float* b, std::size_t n) {
    float acc[16] = {};
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; ++j)
            acc[j] += a[i + j] * b[i + j];
    float s = 0.0f;
    for (; i < n; ++i)
        s += a[i] * b[i];
    for (float v : acc)
        s += v;
    return s;
}

VITRINE_CLONES float l2Kernel(const float* a, const float* b, std::size_t n) {
    float acc[16] = {};
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; ++j) {
            const float d = a[i + j] - b[i + j];
            acc[j] += d * d;
        }
    float s = 0.0f;
    for (; i < n; ++i)
        s += (a[i] - b[i]) * (a[i] - b[i]);
    for (float v : acc)
        s += v;
    return s;
}

float hnswInnerProductDistance(const void* a, const void* b, const void* param) {
    return 1.0f - dotKernel(static_cast<const float*>(a), static_cast<const float*>(b),
                            *static_cast<const std::size_t*>(param));
}

float hnswL2Distance(const void* a, const void* b, const void* param) {
    return l2Kernel(static_cast<const float*>(a), static_cast<const float*>(b),
                    *static_cast<const std::size_t*>(param));
}

class DispatchedSpace : public hnswlib::SpaceInterface<float> {
public:
    DispatchedSpace(std::size_t dim, Metric metric) : m_dim(dim), m_metric(metric) {}
    std::size_t get_data_size() override { return m_dim * sizeof(float); }
    hnswlib::DISTFUNC<float> get_dist_func() override {
        return m_metric == Metric::Cosine ? hnswInnerProductDistance : hnswL2Distance;
    }
    void* get_dist_func_param() override { return &m_dim; }

private:
    std::size_t m_dim;
    Metric m_metric;
};

torch::Tensor view(const MatrixView& m) {
    return torch::from_blob(const_cast<float*>(m.data), {m.rows, m.cols}, torch::kFloat32);
}

int threadsFor(int requested) { return requested > 0 ? requested : std::max(1, computeThreads()); }

// Rows of `cells` gathered into one [m, D] block, with their ids and (Euclidean) squared norms.
struct Candidates {
    torch::Tensor rows; // [m, D]
    std::vector<std::int64_t> ids;
    torch::Tensor sqNorms; // [m], Euclidean only
};

Candidates gather(const FaissIvfIndex& index, const std::int64_t* cells, int p, std::int64_t dim, bool euclidean) {
    std::int64_t m = 0;
    for (int j = 0; j < p; ++j)
        if (cells[j] >= 0)
            m += index.cell(static_cast<int>(cells[j])).size;
    Candidates c;
    c.rows = torch::empty({m, dim}, torch::kFloat32);
    c.ids.reserve(static_cast<std::size_t>(m));
    float* dst = c.rows.data_ptr<float>();
    for (int j = 0; j < p; ++j) {
        if (cells[j] < 0)
            continue;
        const auto cell = index.cell(static_cast<int>(cells[j]));
        std::copy_n(cell.rows, cell.size * dim, dst);
        dst += cell.size * dim;
        c.ids.insert(c.ids.end(), cell.ids, cell.ids + cell.size);
    }
    if (euclidean)
        c.sqNorms = c.rows.square().sum(1);
    return c;
}

// Recall@kProbe of the cell join at `p` cells on `probes` rows whose exact neighbours are
// `truth` (rows, nearest first, the probe itself left out).
double cellJoinRecall(const FaissIvfIndex& index, const std::vector<std::int64_t>& nearest, int p, int pMax,
                      const std::vector<std::int64_t>& probes, const std::vector<std::vector<Neighbour>>& truth,
                      std::int64_t dim, Metric metric) {
    std::vector<std::vector<Neighbour>> found(probes.size());
    for (std::size_t q = 0; q < probes.size(); ++q) {
        const int c = index.cellOf(probes[q]);
        const auto cand = gather(index, nearest.data() + static_cast<std::ptrdiff_t>(c) * pMax, p, dim,
                                 metric == Metric::Euclidean);
        const auto self = std::find(cand.ids.begin(), cand.ids.end(), probes[q]) - cand.ids.begin();
        torch::Tensor row = cand.rows[self].unsqueeze(0);
        torch::Tensor scores = torch::mm(row, cand.rows.t());
        if (metric == Metric::Euclidean)
            scores.mul_(2.0f).sub_(cand.sqNorms.unsqueeze(0));
        scores[0][self] = -std::numeric_limits<float>::infinity();
        const auto want = std::min<std::int64_t>(static_cast<std::int64_t>(truth[q].size()), scores.size(1));
        auto top = std::get<1>(torch::topk(scores, want, 1));
        auto ix = top.accessor<std::int64_t, 2>();
        for (std::int64_t j = 0; j < want; ++j)
            found[q].push_back({cand.ids[static_cast<std::size_t>(ix[0][j])], 0.0f});
    }
    return recallAtK(found, truth, 10);
}

// The kNN graph of a FAISS IVF index's own rows as an IVF self-join: each cell's rows are
// scored against every row of the p cells nearest to it (itself included) with one matrix
// product, and the k best kept. Debian's FAISS is built for baseline x86-64, so its per-
// query list scan runs without AVX (663 queries/s at 10^6 x 384 with 2 cells probed); the
// product runs in the BLAS LibTorch uses, with the CPU's own kernels. p is the smallest of
// 2, 4, 8, ... (at most an eighth of the cells, and 32) whose recall@10 on 256 rows, against exact
// search, reaches options.hnswTargetRecall.
KnnGraph cellJoin(const FaissIvfIndex& index, const NeighbourOptions& options, int k, const ProgressFn& progress,
                  const CancelToken* cancel) {
    torch::NoGradGuard noGrad;
    const int nlist = index.nlist();
    std::int64_t n = 0, dim = 0;
    for (int c = 0; c < nlist; ++c)
        n += index.cell(c).size;
    KnnGraph out(n, std::max(k, 0));
    if (n == 0 || k <= 0)
        return out;
    dim = static_cast<std::int64_t>(index.storedRow(0).size());
    const bool euclidean = options.metric == Metric::Euclidean;
    // At most an eighth of the cells and at most 32: on data with little structure the
    // recall target could otherwise ask for a join as costly as exact search.
    const int pMax = std::clamp(nlist / 8, std::min(nlist, 2), 32);
    const auto nearest = index.nearestCells(pMax);

    // Probe rows and their exact neighbours (one pass over the cells).
    report(progress, 0, n, StageKind::Neighbours);
    const std::int64_t nProbe = std::min<std::int64_t>(256, n);
    std::vector<std::int64_t> probes(static_cast<std::size_t>(nProbe));
    for (std::int64_t q = 0; q < nProbe; ++q)
        probes[static_cast<std::size_t>(q)] = (2 * q + 1) * n / (2 * nProbe);
    torch::Tensor probeIds = torch::from_blob(probes.data(), {nProbe}, torch::kInt64);
    torch::Tensor probeRows = torch::empty({nProbe, dim}, torch::kFloat32);
    for (std::int64_t q = 0; q < nProbe; ++q) {
        const auto r = index.storedRow(probes[static_cast<std::size_t>(q)]);
        std::copy(r.begin(), r.end(), probeRows.data_ptr<float>() + q * dim);
    }
    const int kTruth = static_cast<int>(std::min<std::int64_t>(10, n - 1));
    torch::Tensor bestScore = torch::full({nProbe, kTruth}, -std::numeric_limits<float>::infinity());
    torch::Tensor bestId = torch::full({nProbe, kTruth}, std::int64_t(-1), torch::kInt64);
    for (int c = 0; c < nlist; ++c) {
        const auto cell = index.cell(c);
        if (cell.size == 0)
            continue;
        if (cancel)
            cancel->check();
        auto rows = torch::from_blob(const_cast<float*>(cell.rows), {cell.size, dim}, torch::kFloat32);
        torch::Tensor scores = torch::mm(probeRows, rows.t());
        if (euclidean)
            scores.mul_(2.0f).sub_(rows.square().sum(1).unsqueeze(0));
        auto ids = torch::from_blob(const_cast<std::int64_t*>(cell.ids), {cell.size}, torch::kInt64)
                       .unsqueeze(0)
                       .expand({nProbe, cell.size});
        scores.masked_fill_(ids == probeIds.unsqueeze(1), -std::numeric_limits<float>::infinity()); // not itself
        auto allScores = torch::cat({bestScore, scores}, 1);
        auto allIds = torch::cat({bestId, ids}, 1);
        auto [v, ix] = torch::topk(allScores, kTruth, 1);
        bestScore = v;
        bestId = allIds.gather(1, ix);
    }
    std::vector<std::vector<Neighbour>> truth(static_cast<std::size_t>(nProbe));
    auto bi = bestId.accessor<std::int64_t, 2>();
    for (std::int64_t q = 0; q < nProbe; ++q)
        for (int j = 0; j < kTruth; ++j)
            if (bi[q][j] >= 0)
                truth[static_cast<std::size_t>(q)].push_back({bi[q][j], 0.0f});
    int p = std::min(2, pMax);
    for (;; p = std::min(2 * p, pMax)) {
        if (cancel)
            cancel->check();
        const double recall = cellJoinRecall(index, nearest, p, pMax, probes, truth, dim, options.metric);
        if (recall >= options.hnswTargetRecall || p >= pMax)
            break;
    }

    // The join, cell by cell; a large cell's rows are scored in chunks of ~16M scores.
    std::int64_t done = 0;
    for (int c = 0; c < nlist; ++c) {
        const auto cell = index.cell(c);
        if (cell.size == 0)
            continue;
        if (cancel)
            cancel->check();
        const auto cand = gather(index, nearest.data() + static_cast<std::ptrdiff_t>(c) * pMax, p, dim, euclidean);
        const std::int64_t m = static_cast<std::int64_t>(cand.ids.size());
        const std::int64_t want = std::min<std::int64_t>(k, m - 1);
        const std::int64_t chunk = std::clamp<std::int64_t>((std::int64_t(1) << 24) / std::max<std::int64_t>(m, 1), 16,
                                                            4096);
        for (std::int64_t start = 0; start < cell.size && want > 0; start += chunk) {
            const std::int64_t end = std::min(cell.size, start + chunk);
            // The cell's own rows come first among the candidates, so row i is column i.
            torch::Tensor scores = torch::mm(cand.rows.slice(0, start, end), cand.rows.t());
            if (euclidean)
                scores.mul_(2.0f).sub_(cand.sqNorms.unsqueeze(0));
            scores.slice(1, start, end).fill_diagonal_(-std::numeric_limits<float>::infinity());
            auto [values, indices] = torch::topk(scores, want, 1);
            auto v = values.accessor<float, 2>();
            auto ix = indices.accessor<std::int64_t, 2>();
            const float* qNorms = euclidean ? cand.sqNorms.data_ptr<float>() + start : nullptr;
            for (std::int64_t i = 0; i < end - start; ++i) {
                const std::int64_t row = cell.ids[start + i];
                std::int32_t* ids = out.ids.data() + row * k;
                float* dist = out.distances.data() + row * k;
                const float qn = euclidean ? qNorms[i] : 0.0f;
                for (std::int64_t j = 0; j < want; ++j) {
                    dist[j] = euclidean ? std::sqrt(std::max(0.0f, qn - v[i][j])) : 1.0f - v[i][j];
                    ids[j] = static_cast<std::int32_t>(cand.ids[static_cast<std::size_t>(ix[i][j])]);
                }
            }
        }
        done += cell.size;
        report(progress, done, n, StageKind::Neighbours);
    }
    return out;
}

} // namespace

struct NeighbourIndex::Impl {
    NeighbourOptions options;
    std::int64_t rows = 0, cols = 0;
    torch::Tensor base;    // [N, D]; unit rows for cosine
    torch::Tensor sqNorms; // [N] for Euclidean exact search
    std::unique_ptr<DispatchedSpace> space;
    std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw;
    std::unique_ptr<FaissIvfIndex> faiss; // instead of base, for the largest sets
    int efSearch = 0;
    double probedRecall = -1.0;

    torch::Tensor prepareQueries(torch::Tensor q) const {
        if (options.metric == Metric::Cosine)
            q = torch::nn::functional::normalize(q, torch::nn::functional::NormalizeFuncOptions().dim(1).eps(1e-12));
        return q.contiguous();
    }

    // Exact top-k for queries already prepared; excludeRows[i] >= 0 drops that row.
    std::vector<std::vector<Neighbour>> exact(const torch::Tensor& queries, int k,
                                              const std::vector<std::int64_t>& excludeRows, const ProgressFn& progress,
                                              const CancelToken* cancel) const {
        const std::int64_t q = queries.size(0);
        std::vector<std::vector<Neighbour>> out(static_cast<std::size_t>(q));
        if (rows == 0 || k <= 0)
            return out;
        const bool anyExclude = std::any_of(excludeRows.begin(), excludeRows.end(), [](auto r) { return r >= 0; });
        const std::int64_t want = std::min<std::int64_t>(rows, k + (anyExclude ? 1 : 0));
        // Score blocks of ~16M floats (64 MB) keep memory flat for any N.
        const std::int64_t chunk = std::clamp<std::int64_t>((std::int64_t(1) << 24) / std::max<std::int64_t>(rows, 1),
                                                            16, 4096);
        torch::NoGradGuard noGrad;
        for (std::int64_t start = 0; start < q; start += chunk) {
            if (cancel)
                cancel->check();
            const std::int64_t end = std::min(q, start + chunk);
            auto block = queries.slice(0, start, end);
            torch::Tensor scores = torch::mm(block, base.t());
            if (options.metric == Metric::Euclidean)
                scores.mul_(2.0f).sub_(sqNorms.unsqueeze(0)); // 2 q.x - |x|^2: larger = nearer
            auto [values, indices] = torch::topk(scores, want, /*dim=*/1, /*largest=*/true, /*sorted=*/true);
            auto qNorms = options.metric == Metric::Euclidean ? block.square().sum(1) : torch::Tensor();
            auto v = values.accessor<float, 2>();
            auto ix = indices.accessor<std::int64_t, 2>();
            for (std::int64_t i = 0; i < end - start; ++i) {
                auto& list = out[static_cast<std::size_t>(start + i)];
                list.reserve(static_cast<std::size_t>(k));
                const std::int64_t skip = excludeRows.empty() ? -1 : excludeRows[static_cast<std::size_t>(start + i)];
                const float qn = qNorms.defined() ? qNorms[i].item<float>() : 0.0f;
                for (std::int64_t j = 0; j < want && static_cast<int>(list.size()) < k; ++j) {
                    if (ix[i][j] == skip)
                        continue;
                    float d = options.metric == Metric::Cosine ? 1.0f - v[i][j]
                                                               : std::sqrt(std::max(0.0f, qn - v[i][j]));
                    list.push_back({ix[i][j], d});
                }
            }
            report(progress, end, q, StageKind::Neighbours);
        }
        return out;
    }

    std::vector<Neighbour> approx(const float* prepared, int k, std::int64_t excludeRow) const {
        const int want = std::min<int>(static_cast<int>(rows), k + (excludeRow >= 0 ? 1 : 0));
        auto heap = hnsw->searchKnn(prepared, static_cast<std::size_t>(want));
        std::vector<Neighbour> list;
        list.reserve(heap.size());
        while (!heap.empty()) {
            auto [d, label] = heap.top();
            heap.pop();
            if (static_cast<std::int64_t>(label) == excludeRow)
                continue;
            const float dist = options.metric == Metric::Cosine ? d : std::sqrt(std::max(0.0f, d));
            list.push_back({static_cast<std::int64_t>(label), dist});
        }
        std::reverse(list.begin(), list.end());
        if (static_cast<int>(list.size()) > k)
            list.resize(static_cast<std::size_t>(k));
        return list;
    }
};

NeighbourIndex::NeighbourIndex(const MatrixView& data, const NeighbourOptions& options, const ProgressFn& progress,
                               const CancelToken* cancel)
    : m_impl(std::make_unique<Impl>()) {
    TORCH_CHECK(data.rows >= 0 && data.cols >= 0 && (data.data || data.rows * data.cols == 0),
                "MatrixView without data");
    auto& im = *m_impl;
    im.options = options;
    im.rows = data.rows;
    im.cols = data.cols;
    const bool useFaiss = !options.forceExact && !options.forceApproximate && data.rows > 0 &&
                          (options.forceFaiss || data.rows > options.faissAbove);
    if (useFaiss) {
        im.faiss = std::make_unique<FaissIvfIndex>(data, options, progress, cancel);
        return;
    }
    torch::NoGradGuard noGrad;
    im.base = im.prepareQueries(view(data).clone());
    if (options.metric == Metric::Euclidean)
        im.sqNorms = im.base.square().sum(1);
    const bool useHnsw = !options.forceExact && (options.forceApproximate || data.rows > options.approximateAbove);
    if (!useHnsw || data.rows == 0)
        return;

    im.space = std::make_unique<DispatchedSpace>(static_cast<std::size_t>(data.cols), options.metric);
    im.hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(
        im.space.get(), static_cast<std::size_t>(data.rows), static_cast<std::size_t>(options.hnswM),
        static_cast<std::size_t>(options.hnswEfConstruction), static_cast<std::size_t>(options.seed));
    const float* base = im.base.data_ptr<float>();
    const std::int64_t n = data.rows, d = data.cols;
    // Automatic ef needs queries the graph has not seen (an indexed row finds itself and its
    // graph neighbours far too easily): hold evenly spaced probe rows back, tune on them,
    // then insert them too.
    const bool autoEf = options.hnswEfSearch <= 0;
    const std::int64_t probes = autoEf && n >= 2000 ? std::min<std::int64_t>(256, n / 20) : 0;
    std::vector<std::int64_t> order;
    order.reserve(static_cast<std::size_t>(n));
    std::vector<std::int64_t> probeRows;
    {
        std::vector<char> isProbe(static_cast<std::size_t>(n), 0);
        for (std::int64_t i = 0; i < probes; ++i) {
            const std::int64_t r = (2 * i + 1) * n / (2 * probes);
            isProbe[static_cast<std::size_t>(r)] = 1;
            probeRows.push_back(r);
        }
        for (std::int64_t i = 0; i < n; ++i)
            if (!isProbe[static_cast<std::size_t>(i)])
                order.push_back(i);
        order.insert(order.end(), probeRows.begin(), probeRows.end());
    }
    const int threads = threadsFor(options.threads);
    // Inserts order[from, to) with `threads` threads; the calling thread reports and polls.
    auto insert = [&](std::int64_t from, std::int64_t to) {
        std::atomic<std::int64_t> next{from};
        std::atomic<bool> stop{false};
        auto add = [&](std::int64_t i) {
            const auto row = order[static_cast<std::size_t>(i)];
            im.hnsw->addPoint(base + row * d, static_cast<std::size_t>(row));
        };
        if (from == 0 && to > 0) // the first point alone: the graph needs an entry point
            add(next.fetch_add(1));
        auto worker = [&] {
            while (!stop.load(std::memory_order_relaxed)) {
                const std::int64_t i = next.fetch_add(1);
                if (i >= to)
                    break;
                add(i);
            }
        };
        std::vector<std::thread> pool;
        for (int t = 1; t < threads; ++t)
            pool.emplace_back(worker);
        for (std::int64_t mine = 0; !stop.load(); ++mine) {
            if ((mine & 255) == 0) {
                report(progress, std::min<std::int64_t>(next.load(), to), n, StageKind::Indexing);
                if (cancel && cancel->cancelled()) {
                    stop = true;
                    break;
                }
            }
            const std::int64_t i = next.fetch_add(1);
            if (i >= to)
                break;
            add(i);
        }
        for (auto& th : pool)
            th.join();
        if (stop)
            throw Cancelled();
    };
    insert(0, n - probes);

    if (!autoEf) {
        im.efSearch = options.hnswEfSearch;
    } else if (probes == 0) {
        im.efSearch = 64; // small sets: search is cheap, and too few rows to probe
    } else {
        // Exact top-10 of each probe among the indexed (non-probe) rows.
        constexpr int kProbeK = 10;
        auto idx = torch::tensor(probeRows, torch::kLong);
        auto q = im.base.index_select(0, idx).contiguous();
        auto scores = torch::mm(q, im.base.t());
        if (options.metric == Metric::Euclidean)
            scores.mul_(2.0f).sub_(im.sqNorms.unsqueeze(0));
        scores.index_fill_(1, idx, -std::numeric_limits<float>::infinity());
        auto top = std::get<1>(scores.topk(kProbeK, 1)).contiguous();
        const auto* t = top.data_ptr<std::int64_t>();
        std::vector<std::vector<Neighbour>> truth(static_cast<std::size_t>(probes));
        for (std::int64_t i = 0; i < probes; ++i)
            for (int j = 0; j < kProbeK; ++j)
                truth[static_cast<std::size_t>(i)].push_back({t[i * kProbeK + j], 0.0f});
        const float* pq = q.data_ptr<float>();
        for (int ef : {16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512}) {
            im.hnsw->setEf(static_cast<std::size_t>(ef));
            std::vector<std::vector<Neighbour>> found(static_cast<std::size_t>(probes));
            for (std::int64_t i = 0; i < probes; ++i)
                found[static_cast<std::size_t>(i)] = im.approx(pq + i * d, kProbeK, -1);
            im.efSearch = ef;
            im.probedRecall = recallAtK(found, truth, kProbeK);
            if (im.probedRecall >= options.hnswTargetRecall)
                break;
        }
    }
    insert(n - probes, n);
    report(progress, n, n, StageKind::Indexing);
    im.hnsw->setEf(static_cast<std::size_t>(im.efSearch));
}

int NeighbourIndex::efSearch() const { return m_impl->hnsw ? m_impl->efSearch : 0; }
double NeighbourIndex::probedRecall() const {
    return m_impl->faiss ? m_impl->faiss->probedRecall() : m_impl->probedRecall;
}
int NeighbourIndex::nprobe() const { return m_impl->faiss ? m_impl->faiss->nprobe() : 0; }
int NeighbourIndex::nlist() const { return m_impl->faiss ? m_impl->faiss->nlist() : 0; }
NeighbourEngine NeighbourIndex::engine() const {
    return m_impl->faiss ? NeighbourEngine::Faiss : m_impl->hnsw ? NeighbourEngine::Hnsw : NeighbourEngine::Exact;
}
IndexFileStatus NeighbourIndex::indexFileStatus() const {
    return m_impl->faiss ? m_impl->faiss->fileStatus() : IndexFileStatus::NotUsed;
}
std::string NeighbourIndex::indexFileMessage() const { return m_impl->faiss ? m_impl->faiss->fileMessage() : ""; }

std::filesystem::path faissIndexPath(const std::filesystem::path& embeddingsFile) {
    auto p = embeddingsFile;
    p += ".faiss";
    return p;
}

NeighbourIndex::~NeighbourIndex() = default;
NeighbourIndex::NeighbourIndex(NeighbourIndex&&) noexcept = default;
NeighbourIndex& NeighbourIndex::operator=(NeighbourIndex&&) noexcept = default;

bool NeighbourIndex::approximate() const { return m_impl->hnsw != nullptr || m_impl->faiss != nullptr; }
std::int64_t NeighbourIndex::size() const { return m_impl->rows; }
std::int64_t NeighbourIndex::dim() const { return m_impl->cols; }
const NeighbourOptions& NeighbourIndex::options() const { return m_impl->options; }

std::vector<Neighbour> NeighbourIndex::query(const float* vector, int k, std::int64_t excludeRow) const {
    if (m_impl->faiss)
        return m_impl->faiss->search(vector, 1, k, {excludeRow}).front();
    torch::NoGradGuard noGrad;
    auto q = m_impl->prepareQueries(
        torch::from_blob(const_cast<float*>(vector), {1, m_impl->cols}, torch::kFloat32).clone());
    if (m_impl->hnsw) {
        return m_impl->approx(q.data_ptr<float>(), k, excludeRow);
    }
    return m_impl->exact(q, k, {excludeRow}, {}, nullptr).front();
}

std::vector<Neighbour> NeighbourIndex::queryRow(std::int64_t row, int k) const {
    TORCH_CHECK(row >= 0 && row < m_impl->rows, "row ", row, " out of range [0, ", m_impl->rows, ")");
    if (m_impl->faiss)
        return m_impl->faiss->search(m_impl->faiss->storedRow(row).data(), 1, k, {row}).front();
    // The stored (normalised) row is an exact copy, so querying with it is idempotent.
    const float* v = m_impl->base.data_ptr<float>() + row * m_impl->cols;
    if (m_impl->hnsw)
        return m_impl->approx(v, k, row);
    return m_impl->exact(m_impl->base.slice(0, row, row + 1), k, {row}, {}, nullptr).front();
}

std::vector<std::vector<Neighbour>> NeighbourIndex::queryBatch(const Matrix& queries, int k) const {
    TORCH_CHECK(queries.cols == m_impl->cols, "query dimension ", queries.cols, " != index dimension ", m_impl->cols);
    if (m_impl->faiss)
        return m_impl->faiss->search(queries.data.data(), queries.rows, k, {});
    torch::NoGradGuard noGrad;
    auto q = m_impl->prepareQueries(view(queries).clone());
    if (!m_impl->hnsw)
        return m_impl->exact(q, k, {}, {}, nullptr);
    std::vector<std::vector<Neighbour>> out(static_cast<std::size_t>(queries.rows));
    const float* qp = q.data_ptr<float>();
    at::parallel_for(0, queries.rows, 8, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t i = b; i < e; ++i)
            out[static_cast<std::size_t>(i)] = m_impl->approx(qp + i * m_impl->cols, k, -1);
    });
    return out;
}

KnnGraph::KnnGraph(std::int64_t rows_, int k_)
    : rows(rows_), k(k_), ids(static_cast<std::size_t>(rows_ * k_), -1),
      distances(static_cast<std::size_t>(rows_ * k_), 0.0f) {}

int KnnGraph::count(std::int64_t row) const {
    const std::int32_t* r = idsOf(row);
    int c = k;
    while (c > 0 && r[c - 1] < 0)
        --c;
    return c;
}

std::vector<std::vector<Neighbour>> KnnGraph::lists() const {
    std::vector<std::vector<Neighbour>> out(static_cast<std::size_t>(rows));
    for (std::int64_t i = 0; i < rows; ++i) {
        const int c = count(i);
        auto& list = out[static_cast<std::size_t>(i)];
        list.reserve(static_cast<std::size_t>(c));
        for (int j = 0; j < c; ++j)
            list.push_back({idsOf(i)[j], distancesOf(i)[j]});
    }
    return out;
}

KnnGraph KnnGraph::fromLists(const std::vector<std::vector<Neighbour>>& lists, int k) {
    KnnGraph g(static_cast<std::int64_t>(lists.size()), k);
    for (std::size_t i = 0; i < lists.size(); ++i) {
        TORCH_CHECK(lists[i].size() <= static_cast<std::size_t>(k), "KnnGraph: a list is longer than k");
        for (std::size_t j = 0; j < lists[i].size(); ++j) {
            g.ids[i * k + j] = static_cast<std::int32_t>(lists[i][j].row);
            g.distances[i * k + j] = lists[i][j].distance;
        }
    }
    return g;
}

KnnGraph NeighbourIndex::graph(int k, const ProgressFn& progress, const CancelToken* cancel) const {
    const std::int64_t n = m_impl->rows;
    if (n > std::numeric_limits<std::int32_t>::max())
        throw Error("a kNN graph over " + std::to_string(n) + " rows: at most 2^31 - 1 rows are supported");
    k = std::max(0, k);
    if (m_impl->faiss)
        return cellJoin(*m_impl->faiss, m_impl->options, k, progress, cancel);
    if (!m_impl->hnsw)
        return KnnGraph::fromLists(allRows(k, progress, cancel), k);
    // HNSW: one row's list at a time straight into the flat graph.
    KnnGraph out(n, k);
    const float* base = m_impl->base.data_ptr<float>();
    const std::int64_t block = 4096;
    for (std::int64_t start = 0; start < n; start += block) {
        if (cancel)
            cancel->check();
        const std::int64_t end = std::min(n, start + block);
        at::parallel_for(start, end, 16, [&](std::int64_t b, std::int64_t e) {
            for (std::int64_t i = b; i < e; ++i) {
                const auto list = m_impl->approx(base + i * m_impl->cols, k, i);
                for (std::size_t j = 0; j < list.size() && j < static_cast<std::size_t>(k); ++j) {
                    out.ids[static_cast<std::size_t>(i * k) + j] = static_cast<std::int32_t>(list[j].row);
                    out.distances[static_cast<std::size_t>(i * k) + j] = list[j].distance;
                }
            }
        });
        report(progress, end, n, StageKind::Neighbours);
    }
    return out;
}

std::vector<std::vector<Neighbour>> NeighbourIndex::allRows(int k, const ProgressFn& progress,
                                                            const CancelToken* cancel) const {
    const std::int64_t n = m_impl->rows;
    if (m_impl->faiss)
        return cellJoin(*m_impl->faiss, m_impl->options, k, progress, cancel).lists();
    if (!m_impl->hnsw) {
        std::vector<std::int64_t> self(static_cast<std::size_t>(n));
        for (std::int64_t i = 0; i < n; ++i)
            self[static_cast<std::size_t>(i)] = i;
        return m_impl->exact(m_impl->base, k, self, progress, cancel);
    }
    // HNSW: the flat graph, one row's list at a time, handed back as lists.
    return graph(k, progress, cancel).lists();
}

std::vector<std::vector<Neighbour>> exactKnn(const MatrixView& base, const Matrix& queries, int k, Metric metric,
                                             bool excludeSelf, const ProgressFn& progress, const CancelToken* cancel) {
    NeighbourOptions o;
    o.metric = metric;
    o.forceExact = true;
    NeighbourIndex index(base, o);
    if (excludeSelf) {
        TORCH_CHECK(queries.rows == base.rows, "excludeSelf needs queries == base");
        return index.allRows(k, progress, cancel);
    }
    return index.queryBatch(queries, k);
}

double recallAtK(const std::vector<std::vector<Neighbour>>& found, const std::vector<std::vector<Neighbour>>& truth,
                 int k) {
    std::size_t hits = 0, total = 0;
    for (std::size_t i = 0; i < truth.size() && i < found.size(); ++i) {
        std::unordered_set<std::int64_t> want;
        for (std::size_t j = 0; j < truth[i].size() && j < static_cast<std::size_t>(k); ++j)
            want.insert(truth[i][j].row);
        total += want.size();
        for (std::size_t j = 0; j < found[i].size() && j < static_cast<std::size_t>(k); ++j)
            hits += want.count(found[i][j].row);
    }
    return total ? static_cast<double>(hits) / static_cast<double>(total) : 1.0;
}

} // namespace vitrine::core::analysis
