#include "core/analysis/patch_tokens.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include <opencv2/core.hpp>

#include "core/common/error.h"

namespace vitrine::core::analysis {
namespace {

void require(bool ok, const std::string& what) {
    if (!ok)
        throw Error(what);
}

void checkTokens(const cv::Mat& tokens, int grid, const char* what) {
    require(tokens.type() == CV_32F && tokens.dims == 2 && tokens.cols > 0,
            std::string(what) + ": patch tokens must be an N x D CV_32F matrix");
    require(grid > 0 && tokens.rows == grid * grid, std::string(what) + ": " + std::to_string(tokens.rows) +
                                                        " patch tokens do not fill a " + std::to_string(grid) + "x" +
                                                        std::to_string(grid) + " grid");
}

cv::Mat l2NormalisedRows(const cv::Mat& tokens) {
    cv::Mat out(tokens.size(), CV_32F);
    for (int r = 0; r < tokens.rows; ++r) {
        const double n = cv::norm(tokens.row(r), cv::NORM_L2);
        if (n > 0)
            tokens.row(r).convertTo(out.row(r), CV_32F, 1.0 / n);
        else
            out.row(r).setTo(0);
    }
    return out;
}

bool onBorder(int p, int grid) {
    const int r = p / grid;
    const int c = p % grid;
    return r == 0 || c == 0 || r == grid - 1 || c == grid - 1;
}

// Projects `rows` of `tokens` onto their first `k` principal components (k <= 3),
// returning [N, 3] with unused columns 0, and each component's variance share.
cv::Mat project(const cv::Mat& tokens, const std::vector<int>& rows, int grid, std::vector<float>& explained) {
    cv::Mat data(static_cast<int>(rows.size()), tokens.cols, CV_32F);
    for (std::size_t i = 0; i < rows.size(); ++i)
        tokens.row(rows[i]).copyTo(data.row(static_cast<int>(i)));
    const int k = std::min({3, data.rows, data.cols});
    cv::Mat proj = cv::Mat::zeros(data.rows, 3, CV_32F);
    explained.assign(3, 0.f);
    if (data.rows < 2)
        return proj;
    cv::PCA pca(data, cv::noArray(), cv::PCA::DATA_AS_ROW, k);
    cv::Mat p = pca.project(data); // [n, k]
    p.copyTo(proj.colRange(0, p.cols));

    cv::Mat centred;
    cv::Mat mean;
    cv::repeat(pca.mean, data.rows, 1, mean);
    cv::subtract(data, mean, centred);
    const double total = cv::sum(centred.mul(centred))[0];
    for (int c = 0; c < p.cols; ++c) {
        if (total > 0)
            explained[static_cast<std::size_t>(c)] = static_cast<float>(cv::sum(p.col(c).mul(p.col(c)))[0] / total);
        // Fix the arbitrary sign: border patches (mostly background) get the low end.
        double border = 0, inner = 0;
        int nb = 0, ni = 0;
        for (std::size_t i = 0; i < rows.size(); ++i) {
            const float v = proj.at<float>(static_cast<int>(i), c);
            if (onBorder(rows[i], grid)) {
                border += v;
                ++nb;
            } else {
                inner += v;
                ++ni;
            }
        }
        if (nb > 0 && ni > 0 && border / nb > inner / ni) {
            cv::Mat column = proj.col(c);
            column *= -1;
        }
    }
    return proj;
}

void minMaxColumns(cv::Mat& m) {
    for (int c = 0; c < m.cols; ++c) {
        double lo = 0, hi = 0;
        cv::minMaxLoc(m.col(c), &lo, &hi);
        if (hi > lo)
            m.col(c).convertTo(m.col(c), CV_32F, 1.0 / (hi - lo), -lo / (hi - lo));
        else
            m.col(c).setTo(0.5); // constant component: mid grey rather than a fake extreme
    }
}

} // namespace

cv::Mat tokenNorms(const cv::Mat& patchTokens, int grid) {
    checkTokens(patchTokens, grid, "token norms");
    cv::Mat norms(grid, grid, CV_32F);
    for (int p = 0; p < patchTokens.rows; ++p)
        norms.at<float>(p / grid, p % grid) = static_cast<float>(cv::norm(patchTokens.row(p), cv::NORM_L2));
    return norms;
}

HighNormTokens highNormTokens(const cv::Mat& patchTokens, int grid, double robustSigmas) {
    HighNormTokens out;
    out.norms = tokenNorms(patchTokens, grid);
    std::vector<float> values(out.norms.begin<float>(), out.norms.end<float>());
    auto median = [](std::vector<float> v) {
        const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
        std::nth_element(v.begin(), mid, v.end());
        return *mid;
    };
    out.median = median(values);
    std::vector<float> deviations(values.size());
    for (std::size_t i = 0; i < values.size(); ++i)
        deviations[i] = std::abs(values[i] - out.median);
    out.spread = 1.4826f * median(deviations);
    out.threshold = std::max(out.median + static_cast<float>(robustSigmas) * out.spread, 1.2f * out.median);
    for (int p = 0; p < static_cast<int>(values.size()); ++p)
        if (values[std::size_t(p)] > out.threshold)
            out.patches.push_back(p);
    std::sort(out.patches.begin(), out.patches.end(),
              [&](int a, int b) { return values[std::size_t(a)] > values[std::size_t(b)]; });
    return out;
}

PcaRgb pcaRgb(const cv::Mat& patchTokens, int grid, const PcaRgbOptions& options) {
    checkTokens(patchTokens, grid, "PCA colours");
    const int n = patchTokens.rows;
    std::vector<int> all(static_cast<std::size_t>(n));
    std::iota(all.begin(), all.end(), 0);

    PcaRgb out;
    out.foreground = cv::Mat(grid, grid, CV_8U, cv::Scalar(255));
    std::vector<int> keep = all;
    if (options.removeBackground) {
        std::vector<float> unused;
        cv::Mat first = project(patchTokens, all, grid, unused).col(0).clone();
        minMaxColumns(first);
        keep.clear();
        for (int p = 0; p < n; ++p) {
            const bool fg = first.at<float>(p) >= options.threshold;
            out.foreground.at<unsigned char>(p / grid, p % grid) = fg ? 255 : 0;
            if (fg)
                keep.push_back(p);
        }
    }
    cv::Mat proj = project(patchTokens, keep, grid, out.explainedVariance);
    minMaxColumns(proj);
    out.rgb = cv::Mat::zeros(grid, grid, CV_32FC3);
    for (std::size_t i = 0; i < keep.size(); ++i) {
        const int p = keep[i];
        const int r = static_cast<int>(i);
        out.rgb.at<cv::Vec3f>(p / grid, p % grid) = cv::Vec3f(proj.at<float>(r, 0), proj.at<float>(r, 1),
                                                              proj.at<float>(r, 2));
    }
    return out;
}

cv::Mat patchSimilarityMatrix(const cv::Mat& tokensA, const cv::Mat& tokensB) {
    require(tokensA.type() == CV_32F && tokensB.type() == CV_32F && tokensA.cols == tokensB.cols && tokensA.rows > 0 &&
                tokensB.rows > 0,
            "patch similarity needs two N x D CV_32F token matrices of the same width D (same model)");
    cv::Mat sim;
    cv::gemm(l2NormalisedRows(tokensA), l2NormalisedRows(tokensB), 1.0, cv::noArray(), 0.0, sim, cv::GEMM_2_T);
    return sim;
}

cv::Mat patchSimilarityMap(const cv::Mat& tokensA, int patchA, const cv::Mat& tokensB, int gridB) {
    checkTokens(tokensB, gridB, "patch similarity");
    require(patchA >= 0 && patchA < tokensA.rows, "patch " + std::to_string(patchA) + " out of range (image A has " +
                                                      std::to_string(tokensA.rows) + " patches)");
    return patchSimilarityMatrix(tokensA.row(patchA), tokensB).reshape(1, gridB);
}

std::vector<PatchMatch> bestPatchMatches(const cv::Mat& tokensA, const cv::Mat& tokensB, MatchMode mode, int maxPairs) {
    const cv::Mat sim = patchSimilarityMatrix(tokensA, tokensB);
    std::vector<PatchMatch> pairs;
    if (mode == MatchMode::MutualNearest) {
        std::vector<int> bestForB(static_cast<std::size_t>(sim.cols), -1);
        for (int b = 0; b < sim.cols; ++b) {
            cv::Point loc;
            cv::minMaxLoc(sim.col(b), nullptr, nullptr, nullptr, &loc);
            bestForB[static_cast<std::size_t>(b)] = loc.y;
        }
        for (int a = 0; a < sim.rows; ++a) {
            cv::Point loc;
            double best = 0;
            cv::minMaxLoc(sim.row(a), nullptr, &best, nullptr, &loc);
            if (bestForB[static_cast<std::size_t>(loc.x)] == a)
                pairs.push_back({a, loc.x, static_cast<float>(best)});
        }
    } else {
        require(maxPairs > 0, "top-k patch matches need a positive number of pairs");
        const int total = sim.rows * sim.cols;
        const int k = std::min(maxPairs, total);
        const cv::Mat flat = sim.reshape(1, 1);
        const auto* v = flat.ptr<float>(0);
        std::vector<int> order(static_cast<std::size_t>(total));
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + k, order.end(),
                          [&](int x, int y) { return v[x] > v[y] || (v[x] == v[y] && x < y); });
        for (int i = 0; i < k; ++i) {
            const int idx = order[static_cast<std::size_t>(i)];
            pairs.push_back({idx / sim.cols, idx % sim.cols, v[idx]});
        }
    }
    std::stable_sort(pairs.begin(), pairs.end(),
                     [](const PatchMatch& x, const PatchMatch& y) { return x.similarity > y.similarity; });
    if (maxPairs > 0 && static_cast<int>(pairs.size()) > maxPairs)
        pairs.resize(static_cast<std::size_t>(maxPairs));
    return pairs;
}

} // namespace vitrine::core::analysis
