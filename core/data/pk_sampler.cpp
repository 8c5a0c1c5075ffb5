#include "core/data/pk_sampler.h"

#include <algorithm>
#include <map>
#include <random>

#include "core/common/error.h"

namespace vitrine::core::data {

PkSampler::PkSampler(const std::vector<int>& classIds, const std::vector<std::size_t>& pool, PkOptions options,
                     std::uint64_t seed, const std::vector<std::string>& classNames)
    : m_options(options), m_seed(seed) {
    if (options.classesPerBatch < 2)
        throw Error("classes per batch (P) must be at least 2: a triplet needs a negative from another class");
    if (options.imagesPerClass < 2)
        throw Error("images per class (K) must be at least 2: a triplet needs a positive from the anchor's class");
    std::map<int, std::vector<std::size_t>> byClass;
    for (std::size_t i : pool) {
        if (i >= classIds.size())
            throw Error("PkSampler: sample index out of range");
        byClass[classIds[i]].push_back(i);
    }
    std::size_t withPair = 0;
    for (auto& [id, members] : byClass) {
        withPair += members.size() >= 2 ? 1 : 0;
        m_members.push_back(std::move(members));
    }
    auto nameOf = [&](int id) {
        return id >= 0 && std::size_t(id) < classNames.size() ? "'" + classNames[std::size_t(id)] + "'"
                                                              : "#" + std::to_string(id);
    };
    if (m_members.size() < 2) {
        std::string found = m_members.empty() ? "none" : "only " + nameOf(byClass.begin()->first);
        throw Error("cannot form triplets: they need images of at least 2 classes, but the training images have " +
                    found +
                    ". Add a sub-folder of images of another class (or pick a label level with more "
                    "classes).");
    }
    // Fewer classes than P: keep the batch size by taking more images per class.
    if (int(m_members.size()) < options.classesPerBatch)
        m_options.imagesPerClass = (options.classesPerBatch * options.imagesPerClass + int(m_members.size()) - 1) /
                                   int(m_members.size());
    if (withPair == 0)
        throw Error("cannot form triplets: every class has a single training image, so no anchor has a "
                    "positive. Add at least one more image to some class.");
}

int PkSampler::classesPerBatch() const { return std::min(m_options.classesPerBatch, int(m_members.size())); }

std::vector<std::size_t> PkSampler::batch(std::int64_t step) const {
    // splitmix-style mixing of (seed, step) so neighbouring steps get unrelated streams.
    std::uint64_t z = m_seed + 0x9e3779b97f4a7c15ULL * std::uint64_t(step + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    std::mt19937_64 rng(z ^ (z >> 31));

    std::vector<std::size_t> classes(m_members.size());
    for (std::size_t i = 0; i < classes.size(); ++i)
        classes[i] = i;
    // Prefer classes with ≥ 2 images: a class with one image gives only zero-distance positives.
    std::shuffle(classes.begin(), classes.end(), rng);
    std::stable_partition(classes.begin(), classes.end(), [&](std::size_t c) { return m_members[c].size() >= 2; });
    const auto p = std::size_t(classesPerBatch());
    const auto k = std::size_t(m_options.imagesPerClass);
    std::vector<std::size_t> out;
    out.reserve(p * k);
    for (std::size_t ci = 0; ci < p; ++ci) {
        const auto& members = m_members[classes[ci]];
        if (members.size() >= k) {
            std::vector<std::size_t> pick(members);
            std::shuffle(pick.begin(), pick.end(), rng);
            out.insert(out.end(), pick.begin(), pick.begin() + std::ptrdiff_t(k));
        } else {
            // Every image once, then the rest drawn with replacement.
            std::vector<std::size_t> pick(members);
            std::shuffle(pick.begin(), pick.end(), rng);
            out.insert(out.end(), pick.begin(), pick.end());
            std::uniform_int_distribution<std::size_t> u(0, members.size() - 1);
            for (std::size_t j = members.size(); j < k; ++j)
                out.push_back(members[u(rng)]);
        }
    }
    return out;
}

} // namespace vitrine::core::data
