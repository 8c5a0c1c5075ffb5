#pragma once
// A labelled image collection: a folder whose sub-folders are classes
// (torchvision ImageFolder convention), nested folders giving hierarchical labels
// (cat/Abyssinian -> level 0 "cat", level 1 "Abyssinian"). No torch here.

#include <filesystem>
#include <string>
#include <vector>

#include "core/common/job.h"
#include "core/common/skipped.h"

namespace vitrine::core::data {

struct Sample {
    std::filesystem::path path;      ///< absolute
    std::string relativePath;        ///< generic form relative to its root, '/'-separated
    std::vector<std::string> labels; ///< folder names from the root down; empty for loose files
};

struct ScanOptions {
    /// true: decode every file (what embedding will do; scan and embed agree). false: read
    /// each file's first 64 KiB and check its header only (fast; the GUI's folder load).
    bool verifyImages = true;
    std::int64_t maxPixels = 64'000'000;
};

class Dataset {
public:
    std::filesystem::path root;
    std::vector<Sample> samples; ///< sorted by relativePath
    std::vector<Skipped> skipped;

    /// Deepest label level present (0 for flat folder-per-class sets, -1 when empty).
    int maxLevel() const;
    /// Label of a sample at `level` (clamped to its depth; -1 = deepest). "(unlabelled)" for loose files.
    static std::string labelAt(const Sample& s, int level);
    /// The same without a copy (valid while the sample is).
    static const std::string& labelRef(const Sample& s, int level);
    /// Sorted distinct class names at `level`.
    std::vector<std::string> classNames(int level) const;
    /// Class index (into classNames(level)) of every sample. One hashed pass over the samples:
    /// at 10^6 rows (an embeddings file opened in the window) this runs on the GUI thread.
    std::vector<int> classIds(int level) const;

    /// Adds samples from another scan (e.g. a dropped folder), keeping the order sorted
    /// and skipping files already present. Returns how many were added.
    std::size_t merge(const Dataset& other);
};

/// Scans `root` recursively. Deterministic order; symlink loops, unreadable entries
/// and non-image files are recorded in `skipped` with a reason. Throws core::Error when
/// `root` itself is missing or not a folder; core::Cancelled when cancelled.
Dataset scanFolder(const std::filesystem::path& root, const ScanOptions& options = {}, const ProgressFn& progress = {},
                   const CancelToken* cancel = nullptr);

/// Checks one file as scanFolder does; returns an empty string when it is a usable
/// image, else the reason.
std::string checkImageFile(const std::filesystem::path& file, const ScanOptions& options = {});

/// Stable split by a hash of the relative path: true for validation. Stratified use:
/// call per class (the hash is uniform, so each class gets ~fraction).
bool isValidation(const std::string& relativePath, double validationFraction = 0.2);

} // namespace vitrine::core::data
