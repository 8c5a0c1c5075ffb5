#pragma once
// Image → model input conversion and batched embedding shared by the trainer and the
// evaluation code. Includes torch.

#include <filesystem>
#include <vector>

#include <opencv2/core/mat.hpp>
#include <torch/torch.h>

#include "core/model/vit.h"
#include "core/train/trainer.h"

namespace vitrine::core::train {

/// Decodes `file` and resizes it (area interpolation) so its shorter side is `shortSide`,
/// keeping the aspect ratio. CV_8UC3 RGB. Throws core::Error naming the file.
cv::Mat loadResized(const std::filesystem::path& file, int shortSide);

/// squares: CV_8UC3 RGB, all S × S. Returns [B, 3, S, S] float32, ImageNet-normalised
/// (mean 0.485/0.456/0.406, std 0.229/0.224/0.225).
torch::Tensor imagesToTensor(const std::vector<cv::Mat>& squares);

/// Embeds `squares` (S × S, S = the model's image size) in batches, in inference mode,
/// optionally under bf16 autocast. Returns [N, E] float32 CPU (L2-normalised when the model
/// has a head). Leaves the model in eval() mode. Polls `cancel` between batches.
torch::Tensor embedImages(model::VitImpl& model, const std::vector<cv::Mat>& squares, int batchSize,
                          Precision precision, const CancelToken* cancel = nullptr);

/// Retrieval metrics of [N, E] float embeddings with `labels`.
RetrievalMetrics metricsOf(const torch::Tensor& embeddings, const std::vector<int>& labels, int knnK = 5);

/// RAII CPU bf16 autocast scope (no-op for Float32). Clears the cast cache on exit, as
/// Python's torch.autocast does, so updated weights are re-cast next time.
class AutocastScope {
public:
    explicit AutocastScope(Precision precision);
    ~AutocastScope();
    AutocastScope(const AutocastScope&) = delete;
    AutocastScope& operator=(const AutocastScope&) = delete;

private:
    bool m_active = false;
    bool m_was = false;
};

} // namespace vitrine::core::train
