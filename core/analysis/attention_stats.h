#pragma once
// Per-image statistics of where a ViT looks, for colouring and filtering the map (and for
// the audit): how spread out the class token's attention is, how concentrated the
// attention rollout is, and how many high-norm "artefact" tokens the image has. Computed
// for every image of a data set in batches, with progress and cancel. Torch-free header.

#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "core/common/job.h"

namespace vitrine::core::model {
class VitImpl;
}

namespace vitrine::core::analysis {

struct AttentionStack;

struct AttentionStatistics {
    /// Entropy of the class token's last-layer attention over the patches, divided by
    /// log(patches) so it lies in [0, 1] (1: spread evenly, as over a background; near 0: on a
    /// few patches), the mean over heads.
    float classEntropy = std::numeric_limits<float>::quiet_NaN();
    /// 1 - (patches holding 60 % of the class token's rollout mass) / (60 % of the patches),
    /// in [0, 1]: 0 when the rollout is even, towards 1 when a few patches hold it (the DINO
    /// mass mask the Inspector draws, as one number).
    float rolloutConcentration = std::numeric_limits<float>::quiet_NaN();
    /// Patch tokens flagged by highNormTokens() (the Inspector's "High-norm tokens" view).
    float highNormTokens = std::numeric_limits<float>::quiet_NaN();

    bool valid() const { return classEntropy == classEntropy; }
};

/// The statistics of one image from its attention stack (class token and patches) and its
/// patch tokens ([N, D] CV_32F after the final LayerNorm, N = grid²).
AttentionStatistics attentionStatistics(const AttentionStack& stack, const cv::Mat& patchTokens, int grid);

struct AttentionStatisticsRun {
    std::vector<AttentionStatistics> perImage; ///< one per file; invalid (NaN) where it failed
    std::vector<std::string> errors;           ///< "path: reason" for each file that failed
    double seconds = 0;
};

/// Runs `model` with attention capture on every file (decoded and preprocessed exactly as
/// for embedding, `batch` images per forward pass) and computes their statistics. A file
/// that cannot be decoded is reported in `errors` and the rest goes on. Progress: images
/// done of files.size(), StageKind::AttentionStats. Throws core::Cancelled.
AttentionStatisticsRun computeAttentionStatistics(model::VitImpl& model,
                                                  const std::vector<std::filesystem::path>& files, int batch,
                                                  const ProgressFn& progress, const CancelToken* cancel);

} // namespace vitrine::core::analysis
