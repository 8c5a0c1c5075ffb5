#pragma once
// P×K batches for triplet training (Hermans et al. 2017): P classes, K images each, so
// every anchor has positives and negatives in its batch. No torch here.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vitrine::core::data {

struct PkOptions {
    int classesPerBatch = 8; ///< P
    int imagesPerClass = 4;  ///< K
};

class PkSampler {
public:
    /// classIds: class of each sample (any non-negative ids); `pool`: the sample indices
    /// to draw from (e.g. the training split). Throws core::Error with a message a person
    /// can act on when no triplet can be formed: fewer than 2 classes, or no class with 2
    /// images. `classNames` (indexed by class id) is only used for that message.
    PkSampler(const std::vector<int>& classIds, const std::vector<std::size_t>& pool, PkOptions options,
              std::uint64_t seed, const std::vector<std::string>& classNames = {});

    /// The batch for `step`: min(P, classes) classes without replacement, K samples of each
    /// (without replacement when the class has ≥ K, else with), grouped by class. A pure
    /// function of (seed, step), so resuming at a step gives the same batches.
    std::vector<std::size_t> batch(std::int64_t step) const;

    /// Effective P (≤ requested when the data set has fewer classes; K then grows so that
    /// P×K stays about the requested batch size).
    int classesPerBatch() const;
    int imagesPerClass() const { return m_options.imagesPerClass; }
    std::size_t batchSize() const { return std::size_t(classesPerBatch()) * std::size_t(imagesPerClass()); }
    std::size_t classCount() const { return m_members.size(); }

private:
    PkOptions m_options;
    std::uint64_t m_seed;
    std::vector<std::vector<std::size_t>> m_members; ///< per usable class, its samples in `pool`
};

} // namespace vitrine::core::data
