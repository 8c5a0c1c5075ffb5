#pragma once
// Where a ViT looks: class-token and patch attention maps, attention rollout
// (Abnar & Zuidema 2020) and the DINO mass mask, computed from cached attention
// probabilities. Torch-free on purpose: the Inspector includes this from Qt code, and
// every map is a small OpenCV matrix (at most 197x197 for ViT-*/16 at 224), so moving a
// slider never touches the model.
//
// Token convention throughout: token 0 is the class token, token p + 1 is patch p, and
// patches are numbered row-major over the g x g grid (patch p sits at row p / g, column
// p % g of the image).

#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

namespace vitrine::core::analysis {

/// Every layer's softmax attention of one image, as the model produced it.
struct AttentionStack {
    int layers = 0;
    int heads = 0;
    int tokens = 0; ///< T = N + 1 (class token first)
    /// [layers, heads, T, T] row-major float32 probabilities; row q holds where token q
    /// looks (each row sums to 1).
    std::vector<float> values;

    int numPatches() const { return tokens - 1; }
    /// Side g of the square patch grid (N = g * g). Throws core::Error when N is not square.
    int gridSize() const;
    /// T x T CV_32F view of one head's matrix; shares memory with `values` (no copy), so it
    /// is valid while the stack lives and is not resized.
    cv::Mat matrix(int layer, int head) const;
    /// Throws core::Error when the dimensions and `values` disagree.
    void validate() const;
};

/// How several heads are combined into one map.
enum class HeadFusion { Mean, Max, Min };

/// One head, or all heads fused.
struct HeadChoice {
    int head = -1;                        ///< >= 0: this head alone
    HeadFusion fusion = HeadFusion::Mean; ///< used when head < 0

    static HeadChoice single(int index) { return {index, HeadFusion::Mean}; }
    static HeadChoice fused(HeadFusion how) { return {-1, how}; }
};

/// "mean", "max", "min" or a head index in [0, heads). Throws core::Error naming the
/// accepted values otherwise.
HeadChoice parseHeadChoice(const std::string& text, int heads);
/// "mean" | "max" | "min". Throws core::Error otherwise.
HeadFusion parseHeadFusion(const std::string& text);
/// "head 3", "mean", "max", "min" (labels in composites and the UI).
std::string toString(const HeadChoice& choice);

/// T x T CV_32F: one head's attention (a copy) or the heads fused element-wise. Rows of a
/// single head or of the mean sum to 1; rows of max/min fusions do not.
cv::Mat layerAttention(const AttentionStack& stack, int layer, const HeadChoice& heads);

/// g x g CV_32F: row `query` of a T x T matrix without the class-token column, laid out on
/// the patch grid. `query` 0 is the class token, p + 1 is patch p.
cv::Mat rowToGrid(const cv::Mat& matrix, int query);

/// g x g CV_32F: how much token `query` (0 = class token, p + 1 = patch p) attends to each
/// patch in `layer`. Values are probabilities; they sum to 1 minus the share that went to
/// the class token.
cv::Mat attentionMap(const AttentionStack& stack, int layer, const HeadChoice& heads, int query = 0);

/// The class token's attention to every patch (g x g CV_32F).
inline cv::Mat classAttentionMap(const AttentionStack& stack, int layer, const HeadChoice& heads) {
    return attentionMap(stack, layer, heads, 0);
}

/// Where patch `patch` (row-major index in [0, N)) looks (g x g CV_32F).
inline cv::Mat patchAttentionMap(const AttentionStack& stack, int layer, const HeadChoice& heads, int patch) {
    return attentionMap(stack, layer, heads, patch + 1);
}

/// One g x g CV_32F map per head of `layer` for token `query` (the small-multiples view).
std::vector<cv::Mat> headAttentionMaps(const AttentionStack& stack, int layer, int query = 0);

struct RolloutOptions {
    HeadFusion fusion = HeadFusion::Mean;
    /// Share in [0, 1) of each fused layer's lowest attentions set to zero before the
    /// residual is added, as vit-explain does; entry [0, 0] (class token to itself) is
    /// always kept. 0 keeps everything.
    double discardRatio = 0.0;
    int firstLayer = 0; ///< first layer folded in
    int lastLayer = -1; ///< last layer folded in (inclusive); -1 = the model's last
    /// Model the skip connection as (A + I) / 2 before renormalising rows (the paper's
    /// choice); false multiplies the raw (renormalised) attentions.
    bool addResidual = true;
};

/// T x T CV_32F joint attention A_last * ... * A_first, each layer's fused matrix with the
/// residual identity added and its rows renormalised to sum to 1. (vit-explain divides by
/// a broadcast column sum, a known slip; this normalises rows, as the paper does.) Rows of
/// the result sum to 1.
cv::Mat attentionRollout(const AttentionStack& stack, const RolloutOptions& options = {});

/// g x g CV_32F: row `query` of the rollout (0 = class token) over the patches.
cv::Mat rolloutMap(const AttentionStack& stack, const RolloutOptions& options = {}, int query = 0);

/// The DINO mask: the smallest set of patches that together hold at least `share` of the
/// map's total mass (largest values first; ties broken by patch index).
struct MassMask {
    cv::Mat mask;         ///< same size as the map, CV_8U: 255 kept, 0 dropped
    double keptShare = 0; ///< share of the mass the kept patches hold (>= share)
    int keptCount = 0;
};

/// `map`: CV_32F, non-negative (an attention map); `share` in (0, 1].
MassMask massMask(const cv::Mat& map, double share = 0.6);

} // namespace vitrine::core::analysis
