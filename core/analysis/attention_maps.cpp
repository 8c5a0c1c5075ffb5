#include "core/analysis/attention_maps.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <opencv2/core.hpp>

#include "core/common/error.h"

namespace vitrine::core::analysis {
namespace {

void require(bool ok, const std::string& what) {
    if (!ok)
        throw Error(what);
}

void checkLayer(const AttentionStack& s, int layer) {
    require(layer >= 0 && layer < s.layers, "layer " + std::to_string(layer) + " out of range (the model has " +
                                                std::to_string(s.layers) + " layers, 0.." +
                                                std::to_string(s.layers - 1) + ")");
}

void checkQuery(const AttentionStack& s, int query) {
    require(query >= 0 && query < s.tokens, "token " + std::to_string(query) + " out of range (0 = class token, 1.." +
                                                std::to_string(s.tokens - 1) + " = patches)");
}

// Row-normalises in place; rows that sum to zero stay zero.
void normaliseRows(cv::Mat& m) {
    for (int r = 0; r < m.rows; ++r) {
        auto* row = m.ptr<float>(r);
        double sum = 0;
        for (int c = 0; c < m.cols; ++c)
            sum += row[c];
        if (sum > 0)
            for (int c = 0; c < m.cols; ++c)
                row[c] = static_cast<float>(row[c] / sum);
    }
}

// vit-explain's discard: zero the k lowest entries of the whole matrix except [0, 0].
void discardLowest(cv::Mat& m, double ratio) {
    const int total = m.rows * m.cols;
    const int k = static_cast<int>(total * ratio);
    if (k <= 0)
        return;
    auto* data = m.ptr<float>(0); // continuous: created by layerAttention
    std::vector<int> order(static_cast<std::size_t>(total));
    std::iota(order.begin(), order.end(), 0);
    std::nth_element(order.begin(), order.begin() + (k - 1), order.end(),
                     [&](int a, int b) { return data[a] < data[b] || (data[a] == data[b] && a < b); });
    for (int i = 0; i < k; ++i)
        if (order[static_cast<std::size_t>(i)] != 0)
            data[order[static_cast<std::size_t>(i)]] = 0.f;
}

} // namespace

int AttentionStack::gridSize() const {
    const int n = numPatches();
    const int g = static_cast<int>(std::lround(std::sqrt(static_cast<double>(std::max(n, 0)))));
    require(n > 0 && g * g == n,
            "attention has " + std::to_string(n) +
                " patch tokens, which is not a square grid (expected g*g patches + 1 class token)");
    return g;
}

cv::Mat AttentionStack::matrix(int layer, int head) const {
    checkLayer(*this, layer);
    require(head >= 0 && head < heads, "head " + std::to_string(head) + " out of range (the model has " +
                                           std::to_string(heads) + " heads, 0.." + std::to_string(heads - 1) + ")");
    const std::size_t offset = (static_cast<std::size_t>(layer) * heads + head) * tokens * tokens;
    return cv::Mat(tokens, tokens, CV_32F, const_cast<float*>(values.data() + offset));
}

void AttentionStack::validate() const {
    require(layers > 0 && heads > 0 && tokens > 1, "empty attention stack (" + std::to_string(layers) + " layers, " +
                                                       std::to_string(heads) + " heads, " + std::to_string(tokens) +
                                                       " tokens)");
    const std::size_t expected = static_cast<std::size_t>(layers) * heads * tokens * tokens;
    require(values.size() == expected, "attention stack holds " + std::to_string(values.size()) +
                                           " values, expected layers*heads*T*T = " + std::to_string(expected));
    gridSize();
}

HeadFusion parseHeadFusion(const std::string& text) {
    if (text == "mean")
        return HeadFusion::Mean;
    if (text == "max")
        return HeadFusion::Max;
    if (text == "min")
        return HeadFusion::Min;
    throw Error("unknown head fusion '" + text + "' (use mean, max or min)");
}

HeadChoice parseHeadChoice(const std::string& text, int heads) {
    if (text == "mean" || text == "max" || text == "min")
        return HeadChoice::fused(parseHeadFusion(text));
    std::size_t used = 0;
    int index = -1;
    try {
        index = std::stoi(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != text.size() || text.empty() || index < 0 || index >= heads)
        throw Error("unknown head '" + text + "' (use a head index 0.." + std::to_string(heads - 1) +
                    ", mean, max or min)");
    return HeadChoice::single(index);
}

std::string toString(const HeadChoice& choice) {
    if (choice.head >= 0)
        return "head " + std::to_string(choice.head);
    switch (choice.fusion) {
    case HeadFusion::Max: return "max";
    case HeadFusion::Min: return "min";
    case HeadFusion::Mean: break;
    }
    return "mean";
}

cv::Mat layerAttention(const AttentionStack& stack, int layer, const HeadChoice& heads) {
    stack.validate();
    checkLayer(stack, layer);
    if (heads.head >= 0)
        return stack.matrix(layer, heads.head).clone();
    cv::Mat out = stack.matrix(layer, 0).clone();
    for (int h = 1; h < stack.heads; ++h) {
        const cv::Mat m = stack.matrix(layer, h);
        switch (heads.fusion) {
        case HeadFusion::Mean: out += m; break;
        case HeadFusion::Max: cv::max(out, m, out); break;
        case HeadFusion::Min: cv::min(out, m, out); break;
        }
    }
    if (heads.fusion == HeadFusion::Mean)
        out /= static_cast<double>(stack.heads);
    return out;
}

cv::Mat rowToGrid(const cv::Mat& matrix, int query) {
    require(matrix.type() == CV_32F && matrix.rows == matrix.cols && matrix.rows > 1,
            "rowToGrid needs a square T x T CV_32F matrix");
    require(query >= 0 && query < matrix.rows, "token " + std::to_string(query) + " out of range");
    const int n = matrix.cols - 1;
    const int g = static_cast<int>(std::lround(std::sqrt(static_cast<double>(n))));
    require(g * g == n, std::to_string(n) + " patch tokens do not form a square grid");
    return matrix.row(query).colRange(1, matrix.cols).clone().reshape(1, g);
}

cv::Mat attentionMap(const AttentionStack& stack, int layer, const HeadChoice& heads, int query) {
    stack.validate();
    checkQuery(stack, query);
    if (heads.head >= 0) // one row of one head: skip the full-matrix copy
        return rowToGrid(stack.matrix(layer, heads.head), query);
    checkLayer(stack, layer);
    cv::Mat out = stack.matrix(layer, 0).row(query).clone();
    for (int h = 1; h < stack.heads; ++h) {
        const cv::Mat r = stack.matrix(layer, h).row(query);
        switch (heads.fusion) {
        case HeadFusion::Mean: out += r; break;
        case HeadFusion::Max: cv::max(out, r, out); break;
        case HeadFusion::Min: cv::min(out, r, out); break;
        }
    }
    if (heads.fusion == HeadFusion::Mean)
        out /= static_cast<double>(stack.heads);
    return out.colRange(1, stack.tokens).clone().reshape(1, stack.gridSize());
}

std::vector<cv::Mat> headAttentionMaps(const AttentionStack& stack, int layer, int query) {
    stack.validate();
    checkQuery(stack, query);
    std::vector<cv::Mat> maps;
    maps.reserve(static_cast<std::size_t>(stack.heads));
    for (int h = 0; h < stack.heads; ++h)
        maps.push_back(rowToGrid(stack.matrix(layer, h), query));
    return maps;
}

cv::Mat attentionRollout(const AttentionStack& stack, const RolloutOptions& options) {
    stack.validate();
    const int last = options.lastLayer < 0 ? stack.layers - 1 : options.lastLayer;
    checkLayer(stack, options.firstLayer);
    checkLayer(stack, last);
    require(options.firstLayer <= last, "rollout: first layer " + std::to_string(options.firstLayer) +
                                            " is after last layer " + std::to_string(last));
    require(options.discardRatio >= 0 && options.discardRatio < 1,
            "discard ratio must be in [0, 1), got " + std::to_string(options.discardRatio));
    const int t = stack.tokens;
    const cv::Mat eye = cv::Mat::eye(t, t, CV_32F);
    cv::Mat result = eye.clone();
    cv::Mat next;
    for (int layer = options.firstLayer; layer <= last; ++layer) {
        cv::Mat a = layerAttention(stack, layer, HeadChoice::fused(options.fusion));
        discardLowest(a, options.discardRatio);
        if (options.addResidual)
            a = (a + eye) * 0.5;
        normaliseRows(a);
        cv::gemm(a, result, 1.0, cv::noArray(), 0.0, next);
        std::swap(result, next);
    }
    return result;
}

cv::Mat rolloutMap(const AttentionStack& stack, const RolloutOptions& options, int query) {
    checkQuery(stack, query);
    return rowToGrid(attentionRollout(stack, options), query);
}

MassMask massMask(const cv::Mat& map, double share) {
    require(map.type() == CV_32F && !map.empty(), "mass mask needs a non-empty CV_32F map");
    require(share > 0 && share <= 1, "mask share must be in (0, 1], got " + std::to_string(share));
    const cv::Mat values = map.isContinuous() ? map : map.clone();
    const auto* v = values.ptr<float>(0);
    const int n = static_cast<int>(values.total());
    std::vector<int> order(static_cast<std::size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return v[a] > v[b]; });
    double total = 0;
    for (int i = 0; i < n; ++i)
        total += std::max(v[i], 0.f);

    MassMask out;
    out.mask = cv::Mat::zeros(map.size(), CV_8U);
    auto* m = out.mask.ptr<unsigned char>(0);
    if (total <= 0) { // no mass at all: nothing singles out a patch, keep everything
        out.mask.setTo(255);
        out.keptShare = 1;
        out.keptCount = n;
        return out;
    }
    // A small slack so that share == 1 does not miss the last patch to rounding.
    const double target = share * total * (1 - 1e-7);
    double kept = 0;
    for (int i = 0; i < n && kept < target; ++i) {
        const int p = order[static_cast<std::size_t>(i)];
        kept += std::max(v[p], 0.f);
        m[p] = 255;
        ++out.keptCount;
    }
    out.keptShare = std::min(1.0, kept / total);
    return out;
}

} // namespace vitrine::core::analysis
