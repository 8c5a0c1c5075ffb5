#pragma once
// Image → model input helpers and batched embedding shared by the trainer and the
// evaluation code. Includes torch.

#include <filesystem>
#include <vector>

#include <opencv2/core/mat.hpp>
#include <torch/torch.h>

#include "core/common/precision.h"
#include "core/model/vit.h"
#include "core/train/trainer.h"

namespace vitrine::core::train {

/// Decodes `file` and resizes it (area interpolation) so its shorter side is `shortSide`,
/// keeping the aspect ratio: the source the training augmentations crop from. CV_8UC3 RGB.
/// Throws core::Error naming the file.
cv::Mat loadResized(const std::filesystem::path& file, int shortSide);

/// Embeds `inputs` ([N, 3, S, S] float32, prepared with the model's inputOptions(), S = the
/// model's image size) in batches, in inference mode, under the given precision. Returns
/// [N, E] float32 CPU (L2-normalised when the model has a head). Leaves the model in eval()
/// mode. Polls `cancel` before each batch (throws core::Cancelled); reports `kind` (images)
/// at 0 and after each batch.
torch::Tensor embedInputs(model::VitImpl& model, const torch::Tensor& inputs, int batchSize, Precision precision,
                          const CancelToken* cancel = nullptr, const ProgressFn& progress = {},
                          StageKind kind = StageKind::Embedding);

/// Retrieval metrics of [N, E] float embeddings with `labels`.
RetrievalMetrics metricsOf(const torch::Tensor& embeddings, const std::vector<int>& labels, int knnK = 5);

} // namespace vitrine::core::train
