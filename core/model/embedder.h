#pragma once
// Streaming embedding of image files: a producer thread decodes and preprocesses the next
// batch while the model runs on the current one (bounded queue, so memory stays flat
// however many images there are). Undecodable files are reported and skipped. Torch-free
// header so UI code can drive it.
//
// Intended usage:
//   auto loaded = loadModel(path);
//   embedDataset(*loaded.model, dataset, {}, [&](const EmbeddedBatch& b) { store(b); },
//                progress, &cancelToken);

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/common/job.h"
#include "core/common/precision.h"
#include "core/common/skipped.h"
#include "core/data/dataset.h"

namespace vitrine::core::model {

class VitImpl;

struct EmbedOptions {
    int batchSize = 32;
    /// Auto: resolveInferencePrecision — bf16 autocast where the CPU multiplies bf16 natively
    /// and it measured faster (a ViT-S/16's bf16 embeddings have mean cosine 0.99997 to fp32 on
    /// pet photos, with the same nearest neighbours), int8 Linear layers where those measured
    /// faster still and stay within cosine kInt8MinCosine of float32 on the first batch,
    /// float32 elsewhere (see core/common/precision.h).
    Precision precision = Precision::Auto;
    int queueDepth = 2; ///< preprocessed batches allowed to wait (memory bound)
    /// Preprocessing input side; 0 = the model's image size (anything else must equal it:
    /// load the model with LoadOptions::imageSize to run at another size).
    int imageSize = 0;
};

/// One batch of results, delivered in input order.
struct EmbeddedBatch {
    std::vector<std::size_t> indices; ///< positions in the input list, ascending
    const float* rows = nullptr;      ///< [indices.size(), dim] float32, row-major
    int dim = 0;
    std::vector<Skipped> skipped; ///< inputs of this batch that could not be used
};

/// int8 embeddings must stay within this cosine of float32 to be used automatically.
inline constexpr double kInt8MinCosine = 0.99;

struct EmbedSummary {
    std::size_t embedded = 0;
    std::vector<Skipped> skipped;
    double seconds = 0.0;
    Precision precision = Precision::Fp32; ///< what ran (Auto resolved; after any int8 fallback)
    /// int8 runs: the least cosine between int8 and float32 embeddings of the first batch's
    /// first images (-1 when int8 did not run). Below kInt8MinCosine an automatic choice fell
    /// back to float32 (then `precision` says so).
    double int8MinCosine = -1.0;
};

using EmbedBatchFn = std::function<void(const EmbeddedBatch&)>;

/// Embeds `files` with model.embed() ([N, E] L2-normalised, or class tokens without a head).
/// Progress: StageKind::Embedding, images, per batch; throws core::Cancelled when `cancel` is set
/// (polled between batches). Exceptions from `onBatch` propagate after the producer stops.
EmbedSummary embedFiles(VitImpl& model, const std::vector<std::filesystem::path>& files, const EmbedOptions& options,
                        const EmbedBatchFn& onBatch, const ProgressFn& progress = {},
                        const CancelToken* cancel = nullptr);

/// Same over a data set's samples (indices are sample indices; skipped paths are relative).
EmbedSummary embedDataset(VitImpl& model, const data::Dataset& dataset, const EmbedOptions& options,
                          const EmbedBatchFn& onBatch, const ProgressFn& progress = {},
                          const CancelToken* cancel = nullptr);

} // namespace vitrine::core::model
