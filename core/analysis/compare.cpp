#include "core/analysis/compare.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include <opencv2/core.hpp>

#include "core/common/error.h"

namespace vitrine::core::analysis {

ProcrustesFit procrustes(const Matrix& moving, const Matrix& reference) {
    if (moving.rows != reference.rows || moving.cols != reference.cols)
        throw Error("Procrustes: the maps differ in shape ([" + std::to_string(moving.rows) + ", " +
                    std::to_string(moving.cols) + "] against [" + std::to_string(reference.rows) + ", " +
                    std::to_string(reference.cols) + "]); they must describe the same images");
    if (moving.rows < 1 || moving.cols < 1)
        throw Error("Procrustes: the maps are empty");
    const int n = static_cast<int>(moving.rows), c = static_cast<int>(moving.cols);
    cv::Mat b, a;
    cv::Mat(n, c, CV_32F, const_cast<float*>(moving.data.data())).convertTo(b, CV_64F);
    cv::Mat(n, c, CV_32F, const_cast<float*>(reference.data.data())).convertTo(a, CV_64F);
    cv::Mat muB, muA;
    cv::reduce(b, muB, 0, cv::REDUCE_AVG);
    cv::reduce(a, muA, 0, cv::REDUCE_AVG);
    const cv::Mat bc = b - cv::repeat(muB, n, 1), ac = a - cv::repeat(muA, n, 1);

    // min ||s Bc R - Ac||^2 over orthogonal R: Bc^T Ac = U S V^T gives R = U V^T and
    // s = trace(S) / ||Bc||^2 (Schönemann 1966; Gower & Dijksterhuis 2004, ch. 4).
    cv::Mat w, u, vt;
    cv::SVD::compute(bc.t() * ac, w, u, vt, cv::SVD::FULL_UV);
    const cv::Mat r = u * vt;
    const double normB = cv::sum(bc.mul(bc))[0], normA = cv::sum(ac.mul(ac))[0];
    const double scale = normB > 0 ? cv::sum(w)[0] / normB : 0.0;
    const cv::Mat aligned = scale * (bc * r) + cv::repeat(muA, n, 1);
    const cv::Mat diff = aligned - a;
    const double sse = cv::sum(diff.mul(diff))[0];

    ProcrustesFit fit;
    fit.aligned = Matrix(n, c);
    cv::Mat out(n, c, CV_32F, fit.aligned.data.data()); // a header on fit.aligned: converted in place
    aligned.convertTo(out, CV_32F);
    fit.rotation.assign(r.begin<double>(), r.end<double>());
    fit.scale = scale;
    const cv::Mat t = muA - scale * (muB * r);
    fit.translation.assign(t.begin<double>(), t.end<double>());
    fit.reflection = cv::determinant(r) < 0;
    fit.residual = normA > 0 ? std::clamp(sse / normA, 0.0, 1.0) : 0.0;
    fit.rmsError = std::sqrt(sse / n);
    return fit;
}

ComparisonReport compareEmbeddings(const Matrix& a, const Matrix& b, const io::RowTable& rows,
                                   const CompareOptions& options, const ProgressFn& progress,
                                   const CancelToken* cancel) {
    const auto start = std::chrono::steady_clock::now();
    if (a.rows != b.rows)
        throw Error("compare: embedding A has " + std::to_string(a.rows) + " rows and B " + std::to_string(b.rows) +
                    "; both must embed the same images in the same order");
    if (a.rows < 2)
        throw Error("compare: at least two images are needed to compare neighbourhoods");
    if (a.cols < 1 || b.cols < 1)
        throw Error("compare: an embedding has no columns");
    if (!rows.columns.empty() && rows.size() != a.rows)
        throw Error("compare: " + std::to_string(rows.size()) + " row descriptions for " + std::to_string(a.rows) +
                    " embeddings");
    if ((options.mapA == nullptr) != (options.mapB == nullptr))
        throw Error("compare: give both maps or neither");
    if (options.k < 1)
        throw Error("compare: k must be at least 1");
    const std::int64_t n = a.rows;
    const int k = static_cast<int>(std::min<std::int64_t>(options.k, n - 1));

    NeighbourOptions no = options.neighbours;
    no.metric = options.metric;
    // The two graphs' progress keeps its kinds (indexing, neighbours), told apart by the detail.
    auto knn = [&](const Matrix& m, const std::string& which) {
        auto relabel = [&](long long done, long long total, const Stage& stage) {
            report(progress, done, total, stage.kind, which);
        };
        NeighbourIndex index(m, no, relabel, cancel);
        return index.allRows(k, relabel, cancel);
    };
    const auto nnA = knn(a, "A");
    if (cancel)
        cancel->check();
    const auto nnB = knn(b, "B");
    if (cancel)
        cancel->check();

    ComparisonReport rep;
    rep.k = k;
    rep.overlap.resize(static_cast<std::size_t>(n));
    rep.changed.resize(static_cast<std::size_t>(n));
    double total = 0.0;
    for (std::int64_t i = 0; i < n; ++i) {
        const auto& la = nnA[static_cast<std::size_t>(i)];
        const auto& lb = nnB[static_cast<std::size_t>(i)];
        std::unordered_set<std::int64_t> inA, inB;
        for (const auto& nb : la)
            inA.insert(nb.row);
        for (const auto& nb : lb)
            inB.insert(nb.row);
        auto& ch = rep.changed[static_cast<std::size_t>(i)];
        ch.row = i;
        std::size_t common = 0;
        for (const auto& nb : la) {
            if (inB.count(nb.row))
                ++common;
            else
                ch.onlyA.push_back(nb.row);
        }
        for (const auto& nb : lb)
            if (!inA.count(nb.row))
                ch.onlyB.push_back(nb.row);
        ch.overlap = static_cast<float>(common) / static_cast<float>(k);
        rep.overlap[static_cast<std::size_t>(i)] = ch.overlap;
        total += ch.overlap;
    }
    rep.meanOverlap = total / static_cast<double>(n);
    std::stable_sort(rep.changed.begin(), rep.changed.end(),
                     [](const NeighbourhoodChange& x, const NeighbourhoodChange& y) { return x.overlap < y.overlap; });

    if (rows.column("label") >= 0) {
        std::map<std::string, std::pair<double, std::int64_t>> sums;
        for (std::int64_t i = 0; i < n; ++i) {
            auto& s = sums[rows.value(i, "label")];
            s.first += rep.overlap[static_cast<std::size_t>(i)];
            ++s.second;
        }
        for (const auto& [label, s] : sums)
            rep.perClassOverlap[label] = s.first / static_cast<double>(s.second);
    }

    if (options.mapA) {
        if (options.mapA->rows != n || options.mapB->rows != n)
            throw Error("compare: the maps have " + std::to_string(options.mapA->rows) + " and " +
                        std::to_string(options.mapB->rows) + " rows for " + std::to_string(n) + " images");
        rep.procrustes = procrustes(*options.mapB, *options.mapA);
    }
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return rep;
}

std::vector<std::int64_t> matchRowsByPath(const io::RowTable& a, const io::RowTable& b) {
    if (a.column("path") < 0 || b.column("path") < 0)
        throw Error("compare: rows cannot be matched without a \"path\" column (the .rows.tsv embed writes)");
    std::unordered_map<std::string, std::int64_t> inB;
    for (std::int64_t i = 0; i < b.size(); ++i)
        inB.emplace(b.value(i, "path"), i);
    std::vector<std::int64_t> out(static_cast<std::size_t>(a.size()), -1);
    for (std::int64_t i = 0; i < a.size(); ++i)
        if (auto it = inB.find(a.value(i, "path")); it != inB.end())
            out[static_cast<std::size_t>(i)] = it->second;
    return out;
}

Matrix pickRows(const MatrixView& m, const std::vector<std::int64_t>& rows) {
    Matrix out(static_cast<std::int64_t>(rows.size()), m.cols);
    for (std::size_t i = 0; i < rows.size(); ++i)
        std::copy_n(m.row(rows[i]), m.cols, out.row(static_cast<std::int64_t>(i)));
    return out;
}

} // namespace vitrine::core::analysis
