#pragma once
// What the patch tokens hold: their norms, their first principal components as colours
// (the DINOv2 picture), and how the patches of two images match (the answer to "why are
// these two images neighbours?"). Torch-free: tokens are N x D CV_32F matrices, one row
// per patch in row-major grid order.

#include <vector>

#include <opencv2/core/mat.hpp>

namespace vitrine::core::analysis {

/// g x g CV_32F: the L2 norm of each patch token. `patchTokens`: [N, D] CV_32F, N = g * g.
cv::Mat tokenNorms(const cv::Mat& patchTokens, int grid);

/// Patch tokens whose norm stands far above the rest: the high-norm "artefact" tokens of
/// "Vision Transformers Need Registers" (Darcet et al. 2024) — patches of little content
/// that the model repurposes to hold global information, where the class token's attention
/// piles up in models without registers.
struct HighNormTokens {
    cv::Mat norms;            ///< g x g CV_32F token norms
    std::vector<int> patches; ///< flagged patches (row-major grid index), highest norm first
    float median = 0;         ///< median norm
    float spread = 0;         ///< 1.4826 x the median absolute deviation (a robust standard deviation)
    float threshold = 0;      ///< norm above which a patch is flagged
};

/// Flags the patches whose norm exceeds median + `robustSigmas` x spread (default 4: with
/// ~200 ordinary patches a chance outlier that far out is rare) and at least 1.2 x the median.
HighNormTokens highNormTokens(const cv::Mat& patchTokens, int grid, double robustSigmas = 4.0);

struct PcaRgbOptions {
    /// Drop the background first: patches whose first principal component (min-max scaled
    /// to [0, 1]) is below `threshold` are background; the RGB components are then
    /// fitted on the foreground alone, as in the DINOv2 paper's figures.
    bool removeBackground = false;
    double threshold = 0.5;
};

struct PcaRgb {
    cv::Mat rgb;        ///< g x g CV_32FC3 in [0, 1]; background patches are 0 when removed
    cv::Mat foreground; ///< g x g CV_8U, 255 = foreground (all 255 unless removeBackground)
    /// Share of the variance each of the (up to) three colour components explains.
    std::vector<float> explainedVariance;
};

/// The first three principal components of the patch tokens, each min-max scaled to [0, 1]
/// and used as R, G, B. `patchTokens`: [N, D] CV_32F. The sign of a principal component is
/// arbitrary; it is fixed so that the mean over the grid's border patches is low (the
/// border is usually background), which also orients the background threshold.
PcaRgb pcaRgb(const cv::Mat& patchTokens, int grid, const PcaRgbOptions& options = {});

/// NA x NB CV_32F cosine similarities between the rows of `tokensA` [NA, D] and
/// `tokensB` [NB, D] (CV_32F). A zero token has similarity 0 to everything.
cv::Mat patchSimilarityMatrix(const cv::Mat& tokensA, const cv::Mat& tokensB);

/// gB x gB CV_32F: cosine similarity of patch `patchA` of image A to every patch of B.
cv::Mat patchSimilarityMap(const cv::Mat& tokensA, int patchA, const cv::Mat& tokensB, int gridB);

struct PatchMatch {
    int patchA = 0;
    int patchB = 0;
    float similarity = 0; ///< cosine in [-1, 1]
};

enum class MatchMode {
    MutualNearest, ///< pairs that are each other's best match
    TopK,          ///< the most similar pairs overall (a patch may appear several times)
};

/// The best-matching patch pairs between two images, most similar first, at most
/// `maxPairs` of them (<= 0: all mutual pairs; required > 0 for TopK).
std::vector<PatchMatch> bestPatchMatches(const cv::Mat& tokensA, const cv::Mat& tokensB,
                                         MatchMode mode = MatchMode::MutualNearest, int maxPairs = 0);

} // namespace vitrine::core::analysis
