#pragma once
// Bridges from LibTorch tensors to the torch-free analysis types. Includes torch: only
// for code that already holds model outputs (inspection, tests, benchmarks).

#include <vector>

#include <opencv2/core/mat.hpp>
#include <torch/torch.h>

#include "core/analysis/attention_maps.h"

namespace vitrine::core::analysis {

/// `perLayer`: one [B, H, T, T] tensor per layer (VitOutput::attentions; any floating
/// dtype and device), T = 1 + extraTokens + g*g. Returns batch item `batchIndex` as a
/// float32 CPU stack over the class token and the patches: the `extraTokens` after the
/// class token (DeiT's distillation token, DINOv2's registers) are left out and each row
/// renormalised over the tokens kept.
AttentionStack attentionStackFromTensors(const std::vector<torch::Tensor>& perLayer, std::int64_t batchIndex = 0,
                                         std::int64_t extraTokens = 0);

/// [R, C] (or [C], as one row) tensor of any floating dtype/device -> R x C CV_32F copy.
cv::Mat tensorToMat(const torch::Tensor& matrix);

} // namespace vitrine::core::analysis
