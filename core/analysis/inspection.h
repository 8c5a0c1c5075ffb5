#pragma once
// Inspecting one image under one model: a single forward pass that keeps every layer's
// attention and the patch tokens, cached as plain OpenCV/std types so the Inspector can
// move its sliders (layer, head, rollout, mask, colour map) without running the model
// again. Torch-free: the model is only forward-declared, and Inspector hides it entirely.
//
// Intended usage (from a worker thread):
//   analysis::Inspector inspector("vit-small-16");         // or a .safetensors path
//   auto result = inspector.inspectFile("cat/Bengal/1.jpg");
//   cv::Mat map = classAttentionMap(result.attention, result.attention.layers - 1,
//                                   HeadChoice::fused(HeadFusion::Mean));
//   cv::Mat picture = renderHeatmap(result.input, map, {});   // S x S view
// Then, on the GUI thread, every map of attention_maps.h / patch_tokens.h and every
// renderer of heatmap.h works from `result` in milliseconds.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "core/analysis/attention_maps.h"
#include "core/common/job.h"
#include "core/model/vit_config.h"

namespace vitrine::core::model {
class VitImpl;
}

namespace vitrine::core::analysis {

/// Everything the views need about one image under one model, on the CPU.
struct InspectionResult {
    model::VitConfig config;  ///< the model's architecture (image size S, patch size, ...)
    AttentionStack attention; ///< [L, H, N+1, N+1] softmax probabilities, float32
    cv::Mat patchTokens;      ///< [N, D] CV_32F, after the final LayerNorm, row-major grid order
    cv::Mat classToken;       ///< [1, D] CV_32F, after the final LayerNorm
    cv::Mat embedding;        ///< [1, E] CV_32F, the model's (L2-normalised) embedding
    /// [R, D] CV_32F register tokens after the final LayerNorm (DINOv2 with registers;
    /// empty when the model has none).
    cv::Mat registerTokens;
    /// Per register: the share of the class token's whole attention row it receives in the
    /// last layer (mean over heads). (The attention stack holds only the class token and the
    /// patches, its rows renormalised over them.)
    std::vector<float> registerAttention;
    /// S x S CV_8UC3 RGB: exactly the pixels the model saw (resized shorter side, centre
    /// crop; de-normalised from the input tensor).
    cv::Mat input;
    cv::Size originalSize; ///< the image before preprocessing
    /// The model's view in original-image pixels (the centre crop), for drawing maps on the
    /// original photo with placeInOriginal().
    cv::Rect crop;
    double seconds = 0; ///< wall time of preprocessing + the forward pass

    bool empty() const { return attention.values.empty(); }
    int gridSize() const { return config.gridSize(); }
    int layers() const { return attention.layers; }
    int heads() const { return attention.heads; }
};

/// Runs `model` once on `rgb` (CV_8UC3 RGB, any size; preprocessed exactly as for
/// embedding) with attention capture, under torch::InferenceMode on the model's device,
/// and copies the results to the CPU. Not thread-safe for one model: give each worker its
/// own model or serialise calls. Throws core::Cancelled when `cancel` is set before the
/// forward pass starts.
InspectionResult inspectImage(model::VitImpl& model, const cv::Mat& rgb, const CancelToken* cancel = nullptr);

} // namespace vitrine::core::analysis
