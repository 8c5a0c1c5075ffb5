// PCA, layout alignment and trustworthiness; t-SNE and UMAP live in tsne.cpp/umap.cpp.
#include "core/analysis/projection.h"

#include <algorithm>
#include <cmath>

#include <torch/torch.h>

#include "core/analysis/compare.h"

namespace vitrine::core::analysis {

namespace {

torch::Tensor view(const Matrix& m) {
    return torch::from_blob(const_cast<float*>(m.data.data()), {m.rows, m.cols}, torch::kFloat32);
}

Matrix toMatrix(const torch::Tensor& t) {
    auto c = t.to(torch::kFloat32).contiguous();
    Matrix m(c.size(0), c.size(1));
    std::copy_n(c.data_ptr<float>(), m.data.size(), m.data.begin());
    return m;
}

// Halko, Martinsson & Tropp 2011, algorithm 4.4 (randomised subspace iteration).
torch::Tensor randomizedAxes(const torch::Tensor& x, int c, int oversamples, int iterations, std::uint64_t seed,
                             const CancelToken* cancel) {
    auto gen = at::detail::createCPUGenerator(seed);
    const int64_t l = std::min<int64_t>(c + oversamples, x.size(1));
    auto omega = at::normal(0.0, 1.0, {x.size(1), l}, gen).to(torch::kFloat32);
    auto q = std::get<0>(torch::linalg::qr(torch::mm(x, omega), "reduced"));
    for (int i = 0; i < iterations; ++i) {
        if (cancel)
            cancel->check();
        auto z = std::get<0>(torch::linalg::qr(torch::mm(x.t(), q), "reduced"));
        q = std::get<0>(torch::linalg::qr(torch::mm(x, z), "reduced"));
    }
    auto b = torch::mm(q.t(), x); // [l, D]
    auto [u, s, vh] = torch::linalg::svd(b.to(torch::kFloat64), false, c10::nullopt);
    return vh.slice(0, 0, c).t().to(torch::kFloat32);
}

} // namespace

namespace {

// Fixes each axis' sign so that its largest-magnitude loading is positive.
torch::Tensor withDeterministicSigns(torch::Tensor axes) {
    auto idx = axes.abs().argmax(0);
    auto signs = axes.gather(0, idx.unsqueeze(0)).sign();
    signs.masked_fill_(signs == 0, 1.0f);
    return axes * signs;
}

Matrix alignScores(const Matrix& scores, const Matrix& alignTo) {
    TORCH_CHECK(alignTo.rows == scores.rows && alignTo.cols == scores.cols, "alignTo must be [", scores.rows, ", ",
                scores.cols, "]");
    // PCA scores are centred: rotate/reflect about the origin only, never translate; and
    // scale uniformly, so a live map stays the same size when the embedding's scale jumps
    // (raw features -> a normalised head) instead of shrinking to a dot in the view.
    auto y = view(scores).to(torch::kFloat64);
    auto r = view(alignTo).to(torch::kFloat64);
    auto [u, s, vh] = torch::linalg::svd(torch::mm(y.t(), r), false, c10::nullopt);
    const double norm = y.square().sum().item<double>();
    const double scale = norm > 0 ? s.sum().item<double>() / norm : 1.0;
    return toMatrix(torch::mm(y, torch::mm(u, vh)) * scale);
}

bool exactSolver(const PcaOptions& options, std::int64_t cols) {
    return options.solver == PcaOptions::Solver::Exact || (options.solver == PcaOptions::Solver::Auto && cols <= 1024);
}

// Exact PCA in three streamed passes over `data`; see pca() in the header.
Matrix streamedPca(const MatrixView& data, int c, const PcaOptions& options, const ProgressFn& progress,
                   const CancelToken* cancel) {
    const std::int64_t n = data.rows, d = data.cols;
    const std::int64_t block = options.blockRows > 0 ? options.blockRows
                                                     : std::max<std::int64_t>(1, (std::int64_t(4) << 20) / d);
    const std::int64_t blocks = (n + block - 1) / block;
    const long long steps = 3 * blocks;
    long long done = 0;
    auto rows = [&](std::int64_t start) {
        const std::int64_t end = std::min(n, start + block);
        return torch::from_blob(const_cast<float*>(data.row(start)), {end - start, d}, torch::kFloat32);
    };
    // Each pass leaves the blocks behind it to the page cache: a memory-mapped 10^6 x 384
    // file does not stay in the resident set (MatrixView::releasePages).
    std::int64_t passStart = 0;
    auto step = [&] {
        data.releasePages(passStart, passStart + block);
        passStart = passStart + block >= n ? 0 : passStart + block;
        if (cancel)
            cancel->check();
        report(progress, ++done, steps, StageKind::Pca);
    };
    report(progress, 0, steps, StageKind::Pca);
    auto sum = torch::zeros({d}, torch::kFloat64);
    for (std::int64_t start = 0; start < n; start += block) {
        sum += torch::sum(rows(start), {0}, false, torch::kFloat64);
        step();
    }
    const auto mean = (sum / double(n)).to(torch::kFloat32);
    // Centred before the product (not E[x x^T] - m m^T afterwards), which would lose the
    // spread of embeddings far from the origin to cancellation.
    auto cov = torch::zeros({d, d}, torch::kFloat64);
    for (std::int64_t start = 0; start < n; start += block) {
        auto centred = rows(start) - mean;
        cov += torch::mm(centred.t(), centred).to(torch::kFloat64);
        step();
    }
    auto [evals, evecs] = torch::linalg::eigh(cov, "L");
    const auto axes = withDeterministicSigns(
        evecs.slice(1, evecs.size(1) - c, evecs.size(1)).flip({1}).to(torch::kFloat32));
    Matrix scores(n, c);
    for (std::int64_t start = 0; start < n; start += block) {
        auto s = torch::mm(rows(start) - mean, axes).contiguous();
        std::copy_n(s.data_ptr<float>(), s.numel(), scores.data.begin() + start * c);
        step();
    }
    return scores;
}

} // namespace

Matrix pca(const MatrixView& data, const PcaOptions& options, const ProgressFn& progress, const CancelToken* cancel) {
    TORCH_CHECK(data.rows >= 2 && data.cols >= 1, "PCA needs at least 2 rows");
    if (!exactSolver(options, data.cols)) {
        Matrix copy(data.rows, data.cols);
        std::copy_n(data.data, copy.data.size(), copy.data.begin());
        return pca(copy, options, progress, cancel);
    }
    const int c = static_cast<int>(std::min<int64_t>({options.components, data.cols, data.rows}));
    torch::NoGradGuard noGrad;
    auto scores = streamedPca(data, c, options, progress, cancel);
    return options.alignTo ? alignScores(scores, *options.alignTo) : scores;
}

Matrix pca(const Matrix& data, const PcaOptions& options, const ProgressFn& progress, const CancelToken* cancel) {
    TORCH_CHECK(data.rows >= 2 && data.cols >= 1, "PCA needs at least 2 rows");
    if (exactSolver(options, data.cols))
        return pca(MatrixView(data), options, progress, cancel);
    // The randomised solver multiplies by the whole centred matrix several times.
    const int c = static_cast<int>(std::min<int64_t>({options.components, data.cols, data.rows}));
    torch::NoGradGuard noGrad;
    report(progress, 0, 2, StageKind::Pca);
    auto x = view(data);
    auto centred = x - x.mean(0, true);
    if (cancel)
        cancel->check();
    auto axes = withDeterministicSigns(
        randomizedAxes(centred, c, options.oversamples, options.powerIterations, options.seed, cancel));
    auto scores = toMatrix(torch::mm(centred, axes));
    report(progress, 2, 2, StageKind::Pca);
    return options.alignTo ? alignScores(scores, *options.alignTo) : scores;
}

Matrix alignLayout(const Matrix& layout, const Matrix& reference) {
    return procrustes(layout, reference).aligned; // one Procrustes, in compare.cpp
}

double trustworthiness(const Matrix& data, const Matrix& layout, int k, const CancelToken* cancel) {
    const int64_t n = data.rows;
    TORCH_CHECK(layout.rows == n, "trustworthiness: layout has ", layout.rows, " rows, data ", n);
    TORCH_CHECK(k >= 1 && 2 * k < n, "trustworthiness needs 1 <= k < N / 2");
    torch::NoGradGuard noGrad;
    auto lowNn = exactKnn(layout, layout, k, Metric::Euclidean, /*excludeSelf=*/true, {}, cancel);
    auto x = view(data);
    auto sq = x.square().sum(1);
    double penalty = 0.0;
    const int64_t block = std::max<int64_t>(1, (int64_t(1) << 22) / std::max<int64_t>(n, 1));
    for (int64_t start = 0; start < n; start += block) {
        if (cancel)
            cancel->check();
        const int64_t end = std::min(n, start + block);
        // Squared distances from this block of rows to every row; self pushed to -inf so
        // it ranks before everything and ranks below count from 1 as in sklearn.
        auto d = sq.slice(0, start, end).unsqueeze(1) + sq.unsqueeze(0) -
                 2.0f * torch::mm(x.slice(0, start, end), x.t());
        auto rowsIdx = torch::arange(start, end, torch::kLong);
        d.index_put_({torch::arange(end - start, torch::kLong), rowsIdx}, -std::numeric_limits<float>::infinity());
        std::vector<int64_t> nnIdx;
        nnIdx.reserve(static_cast<std::size_t>((end - start) * k));
        for (int64_t i = start; i < end; ++i)
            for (const auto& nb : lowNn[static_cast<std::size_t>(i)])
                nnIdx.push_back(nb.row);
        auto lowIdx = torch::from_blob(nnIdx.data(), {end - start, k}, torch::kLong).clone();
        auto thr = d.gather(1, lowIdx); // [B, k]
        // rank of j among i's high-dimensional neighbours (1 = nearest, self excluded)
        auto ranks = (d.unsqueeze(1) < thr.unsqueeze(2)).sum(2); // [B, k]; self counted once = 1-based
        penalty += (ranks - k).clamp_min(0).sum().item<double>();
    }
    const double nn = static_cast<double>(n), kk = static_cast<double>(k);
    return 1.0 - penalty * 2.0 / (nn * kk * (2.0 * nn - 3.0 * kk - 1.0));
}

} // namespace vitrine::core::analysis
