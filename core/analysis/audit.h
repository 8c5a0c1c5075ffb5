#pragma once
// Data set audit: what in a labelled image collection needs fixing, found from its
// embeddings — exact and near duplicates, duplicates leaking across the train/validation
// split or across labels, likely mislabels and outliers. Torch-free (plain Matrix and
// RowTable in, plain structs out), so the GUI's worker can include it.
//
// Intended usage (from a worker thread):
//   auto report = audit(set.embeddings, set.rows, dataRoot, {}, progress, &cancel);
//   for (const auto& m : report.mislabels) ...   // ranked, best evidence first
//   colourMapBy(report.outlierScore);            // one score per row, for the map
//
// The scores, and why they were chosen:
// - Near duplicates: cosine distance <= AuditOptions::nearDuplicateDistance between a row
//   and one of its k nearest neighbours, grouped by union-find (single linkage). The default
//   threshold comes from the data: kNearDuplicateFraction x the median distance of each row
//   to its nearest neighbour (clamped to [kMinNearDuplicate, kMaxNearDuplicate]), because
//   what counts as "close" depends on the model and the data set; the report says which
//   threshold it used. Measured on 960 pet photos with 20 resized (60 %, JPEG q90) copies and
//   the default model: copies at 0.03-0.12, distinct photos' median nearest distance ~0.25,
//   burst shots of one animal from 0.07. The threshold is one global number: on dense sets
//   (many similar photos) lower it, or raise it to catch heavier edits.
// - Exact duplicates: the members of each near-duplicate group (and only those: identical
//   pixels give identical embeddings, so no other image can be one) are decoded at full
//   size and hashed (width, height and RGB bytes, 64-bit), in parallel. On 960 demo photos
//   with 20 resized copies that is 88 decodes, 0.11 s on 2 threads, against 0.54 s to hash
//   every image — and the gap grows with photo size, since camera photos decode 20x slower.
// - Leakage: a duplicate group (exact or near) whose members are in both the training and
//   the validation split, or carry different labels.
// - Mislabel score of a row labelled L: the largest share any other label L' holds of the
//   inverse-distance weight 1 / (d + delta) of the row's k nearest neighbours, delta being
//   the median nearest-neighbour distance (so one very close neighbour counts more, but not
//   infinitely more). In [0, 1]; 0.5 and above means another label outweighs all the rest.
//   The suggested label is that L'.
// - Outlier score: the mean cosine distance to the k nearest neighbours, as a robust z
//   score (Iglewicz & Hoaglin's modified z: 0.6745 (x - median) / MAD), mapped to [0, 1] by
//   a logistic centred on their outlier cut-off 3.5: score = 1 / (1 + exp(3.5 - z)). So 0.5
//   is the conventional cut-off, scores mean the same on any data set size (unlike a rank
//   percentile, which calls the most typical of a set of ordinary images an outlier too),
//   and it is monotone in the distance, so the ranking is the distance's. The list is a
//   ranking (AuditOptions::minListedOutliers): the most isolated images come first even when
//   none passes the cut-off.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/common/job.h"
#include "core/common/matrix.h"
#include "core/io/embedding_set.h"

namespace vitrine::core::analysis {

/// Default near-duplicate threshold = this x the median nearest-neighbour cosine distance.
inline constexpr float kNearDuplicateFraction = 0.5f;
inline constexpr float kMinNearDuplicate = 1e-4f;
inline constexpr float kMaxNearDuplicate = 0.2f;
/// Rows closer than this are the same embedding up to float rounding (a batch's arithmetic can
/// differ by a few ulps): always grouped, so exact duplicates are found whatever the threshold.
inline constexpr float kSameEmbedding = 1e-5f;

struct AuditOptions {
    int k = 10; ///< neighbours per row for the mislabel and outlier scores and duplicate search
    /// Cosine distance under which two images are near duplicates; < 0 = choose from the data.
    float nearDuplicateDistance = -1.0f;
    /// Decode duplicate candidates to tell exact duplicates apart (needs the image files).
    bool checkPixels = true;
    /// Rows' split: the value of this column ("train" / "val"), when the table has it; else
    /// data::isValidation(path, validationFraction), the trainer's split.
    std::string splitColumn = "split";
    double validationFraction = 0.2;
    /// Mislabels listed: rows scoring at least this (every row's score is in the report).
    float minMislabelScore = 0.5f;
    /// Outliers listed: the most isolated max(minListedOutliers, listedOutlierFraction x N)
    /// rows, and beyond those every row scoring at least minOutlierScore. Outlyingness is a
    /// ranking first: in a small or varied set nothing may reach the cut-off, yet the most
    /// isolated images are still the ones to look at (their scores say how unusual they are).
    int minListedOutliers = 10;
    double listedOutlierFraction = 0.01;
    float minOutlierScore = 0.5f;
    int threads = 0; ///< for the neighbour search and decoding; 0 = computeThreads()
};

struct DuplicateGroup {
    std::vector<std::int64_t> rows; ///< sorted
    bool exact = false;             ///< same decoded pixels (dimensions and RGB bytes)
    float distance = 0.0f;          ///< largest cosine distance between two of its rows
};

struct Mislabel {
    std::int64_t row = -1;
    std::string label, suggested;
    float score = 0.0f; ///< in [0, 1]; see the header comment
};

struct Outlier {
    std::int64_t row = -1;
    float score = 0.0f;       ///< in [0, 1]; see the header comment
    float knnDistance = 0.0f; ///< mean cosine distance to the k nearest neighbours
};

struct Leak {
    std::vector<std::int64_t> rows; ///< one duplicate group, sorted
    bool crossesSplit = false;      ///< rows in both train and validation
    bool mixedLabels = false;       ///< rows with different labels
};

struct AuditReport {
    /// Exact groups first (by size, then first row), then near groups by distance. A near
    /// group lists every image linked to it, exact copies included (it has at least two
    /// different images); an exact group is all copies of one image.
    std::vector<DuplicateGroup> duplicates;
    std::vector<Leak> leakage;               ///< in the order of the groups they come from
    std::vector<Mislabel> mislabels;         ///< score >= minMislabelScore, highest first
    std::vector<Outlier> outliers;           ///< see AuditOptions::minListedOutliers; highest first
    std::vector<float> mislabelScore;        ///< [N], every row
    std::vector<std::string> suggestedLabel; ///< [N], "" where no other label is near
    std::vector<float> outlierScore;         ///< [N], every row
    std::vector<float> knnDistance;          ///< [N] mean distance to the k nearest
    std::vector<std::string> splits;         ///< [N] "train" or "val"
    float nearDuplicateDistance = 0.0f;      ///< the threshold used
    float medianNearestDistance = 0.0f;      ///< median over rows of the distance to the nearest other row
    bool thresholdFromData = false;          ///< chosen from the data (not given)
    int k = 0;                               ///< neighbours used (k, or N - 1 for tiny sets)
    /// Duplicate candidates that could not be decoded ("path: reason"); they still count as
    /// near duplicates, never as exact ones.
    std::vector<std::string> unreadable;
    double seconds = 0.0;      ///< whole audit
    double pixelSeconds = 0.0; ///< of which decoding and hashing
};

/// Audits `embeddings` ([N, E] float32, one row per image, any scale: cosine distances are
/// used) whose rows are described by `rows` (N rows with "path" relative to `root` and
/// "label"; an optional split column). Progress: StageKind::Indexing and Neighbours
/// (rows), Hashing (images decoded), Scoring (rows). Throws core::Error on mismatched inputs, core::Cancelled when
/// `cancel` is set (polled between stages and batches).
AuditReport audit(const Matrix& embeddings, const io::RowTable& rows, const std::filesystem::path& root,
                  const AuditOptions& options = {}, const ProgressFn& progress = {},
                  const CancelToken* cancel = nullptr);

/// 64-bit hash of an image's decoded pixels (dimensions and RGB bytes, full size, EXIF
/// orientation applied). Throws core::Error when the file cannot be decoded.
std::uint64_t pixelHash(const std::filesystem::path& file);

} // namespace vitrine::core::analysis
