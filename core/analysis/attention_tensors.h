#pragma once
// Bridges from LibTorch tensors to the torch-free analysis types. Includes torch: only
// for code that already holds model outputs (inspection, tests, benchmarks).

#include <vector>

#include <torch/torch.h>
#include <opencv2/core/mat.hpp>

#include "core/analysis/attention_maps.h"

namespace vitrine::core::analysis {

/// `perLayer`: one [B, H, T, T] tensor per layer (VitOutput::attentions; any floating
/// dtype and device), T = g*g + 1. Returns batch item `batchIndex` as a float32 CPU stack.
AttentionStack attentionStackFromTensors(const std::vector<torch::Tensor>& perLayer, std::int64_t batchIndex = 0);

/// [R, C] (or [C], as one row) tensor of any floating dtype/device -> R x C CV_32F copy.
cv::Mat tensorToMat(const torch::Tensor& matrix);

} // namespace vitrine::core::analysis
