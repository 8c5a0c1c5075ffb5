#pragma once
// Triplet loss (Schroff et al. 2015, "FaceNet"; Hermans et al. 2017, "In Defense of the
// Triplet Loss") over a batch of embeddings, with the miner that chooses which
// (anchor, positive, negative) triplets count. Includes torch: keep it out of UI headers.

#include <cstdint>
#include <optional>
#include <string>

#include <torch/torch.h>

namespace vitrine::core::train {

enum class Miner {
    BatchAll,  ///< every valid triplet in the batch
    BatchHard, ///< per anchor: farthest positive, nearest negative
    SemiHard,  ///< every triplet with d(a,p) < d(a,n) < d(a,p) + margin
    Random,    ///< per anchor: one random positive and one random negative
};

enum class Distance {
    Euclidean, ///< ||a - b|| on L2-normalised rows, in [0, 2]
    Cosine,    ///< 1 - cos(a, b), in [0, 2]
};

/// "batch-all", "batch-hard", "semi-hard", "random"; throws core::Error listing the names.
Miner parseMiner(const std::string& name);
std::string minerName(Miner miner);
/// "euclidean", "cosine"; throws core::Error listing the names.
Distance parseDistance(const std::string& name);
std::string distanceName(Distance distance);

struct TripletLossOptions {
    Miner miner = Miner::BatchAll;
    Distance distance = Distance::Euclidean;
    double margin = 0.2;
    /// softplus(d_ap - d_an) instead of relu(d_ap - d_an + margin): no margin, every
    /// mined triplet contributes (the semi-hard band still uses `margin`).
    bool softMargin = false;
};

struct TripletLossResult {
    /// [] float32 scalar: mean over active triplets; exactly 0 (with a graph, so backward()
    /// works and gives zero gradients) when no triplet is active. Never NaN for finite input.
    torch::Tensor loss;
    std::int64_t found = 0;  ///< triplets the miner produced
    std::int64_t active = 0; ///< of those, with positive loss (soft margin: all found)
    double meanPositive = 0; ///< mean distance over all same-class pairs (i != j); 0 if none
    double meanNegative = 0; ///< mean distance over all different-class pairs; 0 if none
    double meanPairwise = 0; ///< mean distance over all pairs i != j (collapse detection)
    double activeFraction() const { return found > 0 ? double(active) / double(found) : 0.0; }
};

/// Pairwise distances of the L2-normalised rows of `embeddings` ([B, E] float) as [B, B]
/// float. Euclidean uses sqrt(clamp(d², 1e-12)) so that identical rows (and the diagonal)
/// have a finite, zero gradient instead of NaN.
torch::Tensor pairwiseDistances(const torch::Tensor& embeddings, Distance distance);

/// embeddings: [B, E] float32 (any scale; rows are L2-normalised here), labels: [B] int64.
/// `generator` only matters for Miner::Random (default: torch's global generator).
TripletLossResult tripletLoss(const torch::Tensor& embeddings, const torch::Tensor& labels,
                              const TripletLossOptions& options, std::optional<at::Generator> generator = std::nullopt);

} // namespace vitrine::core::train
