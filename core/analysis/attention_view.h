#pragma once
// One rule for drawing where a ViT looks, shared by the Inspector and `vitrine-cli attention`:
// which map a request means (layer, heads, rollout, the querying token), how it is coloured
// and laid over the picture, the DINO mask, the highlighted patch, the patch grid and the
// contact sheet of every head. Both front ends build an AttentionView from their controls
// and call renderAttentionView(), so the same request gives the same pixels in both (a test
// compares them). Torch-free, like the rest of the Inspector's views.

#include <string>

#include <opencv2/core/mat.hpp>

#include "core/analysis/attention_maps.h"
#include "core/analysis/heatmap.h"

namespace vitrine::core::analysis {

/// What to show of one image's attention stack.
struct AttentionView {
    int layer = -1; ///< 0-based, as the model numbers its blocks; -1 = the last
    /// One head or a fusion of all. Rollout folds every head of every layer, so with
    /// `rollout` a single head means the mean.
    HeadChoice heads = HeadChoice::fused(HeadFusion::Mean);
    bool rollout = false;      ///< attention rollout (Abnar & Zuidema 2020) from layer 0 up to `layer`
    double discardRatio = 0.0; ///< with `rollout`: share of each layer's lowest attentions dropped; else unused
    int patch = -1;            ///< where this patch (row-major) looks, outlined; -1 = the class token
    /// > 0: only the patches holding this share of the map's mass keep their colour, the
    /// rest of the photo is darkened (DINO's mask figures); the heatmap is not drawn.
    double maskShare = 0.0;
    bool allHeads = false; ///< a contact sheet: every head of `layer`, then their fusion
    bool drawGrid = false; ///< the patch grid drawn into the picture
    HeatmapStyle style;    ///< colour map, opacity, interpolation
};

/// Throws core::Error, naming the setting, when `view` asks for something `stack` does not
/// have (a layer or patch out of range, a head the model lacks) or that cannot be drawn
/// (every head of a rollout: rollout has no per-head maps).
void validateAttentionView(const AttentionStack& stack, const AttentionView& view);

/// g x g CV_32F: the map `view` shows (for the whole-sheet view: the fusion of the heads).
cv::Mat attentionViewMap(const AttentionStack& stack, const AttentionView& view);

/// `view` drawn over `canvas` (CV_8UC3 RGB, what the model saw at any size: the model input,
/// or the crop of the original photo). Returns CV_8UC3 RGB of canvas's size; for `allHeads`,
/// the labelled sheet of tiles (each tile 224..320 px on its longer side). `map`, when given,
/// receives attentionViewMap(). Validates first.
cv::Mat renderAttentionView(const AttentionStack& stack, const cv::Mat& canvas, const AttentionView& view,
                            cv::Mat* map = nullptr);

/// What the view shows, in words: "layer 5, head 2, class token", "rollout to layer 11 (mean
/// fusion, discard 0.9), patch 40, mask 12 patches".
std::string describeAttentionView(const AttentionStack& stack, const AttentionView& view);

} // namespace vitrine::core::analysis
