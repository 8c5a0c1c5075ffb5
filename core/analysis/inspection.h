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
    cv::Size originalSize;    ///< the image before preprocessing
    /// The model's view in original-image pixels (the centre crop), for drawing maps on the
    /// original photo with placeInOriginal().
    cv::Rect crop;
    double seconds = 0;       ///< wall time of preprocessing + the forward pass

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

/// A loaded model ready to inspect images; owns the model so callers need no torch headers.
class Inspector {
public:
    /// `presetOrPath`: as model::loadModel (preset name, .safetensors file, "" or "default").
    /// `imageSize` > 0 runs the model at that size. `device`: "cpu", "cuda" or "auto".
    /// Throws core::Error naming the file and the problem.
    explicit Inspector(const std::string& presetOrPath, int imageSize = 0, const std::string& device = "cpu");
    ~Inspector();
    Inspector(Inspector&&) noexcept;
    Inspector& operator=(Inspector&&) noexcept;

    /// See inspectImage().
    InspectionResult inspect(const cv::Mat& rgb, const CancelToken* cancel = nullptr);
    /// Decodes `file` (core::image::decodeRgb) and inspects it; throws core::Error naming
    /// the file when it is not a readable image.
    InspectionResult inspectFile(const std::filesystem::path& file, const CancelToken* cancel = nullptr);

    const model::VitConfig& config() const;
    std::string source() const;          ///< preset name or file it came from
    bool weightsLoaded() const;          ///< false: random weights (a preset)
    std::vector<std::string> warnings() const; ///< from loading, for the UI to show

    /// The model itself, for callers that include core/model/vit.h.
    model::VitImpl& model();

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace vitrine::core::analysis
