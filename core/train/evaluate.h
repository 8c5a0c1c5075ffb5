#pragma once
// Retrieval evaluation of a model (or of a raw-pixel baseline) on a data set's
// validation split. Torch-free header.

#include <cstddef>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/common/job.h"
#include "core/train/metrics.h"
#include "core/train/trainer.h"

namespace vitrine::core::data {
class Dataset;
}

namespace vitrine::core::train {

enum class Split { Validation, Train, All };
/// "val", "train", "all"; throws core::Error listing them.
Split parseSplit(const std::string& name);

/// The trainer's stable stratified split: data::isValidation per sample, except that a class
/// whose samples all fall into validation is kept for training. Sorted sample indices.
std::pair<std::vector<std::size_t>, std::vector<std::size_t>>
trainValidationSplit(const data::Dataset& dataset, int labelLevel, double validationFraction = 0.2);

struct EvalOptions {
    int labelLevel = 0;
    Split split = Split::Validation;
    double validationFraction = 0.2;
    int imageSize = 0;      ///< > 0: run the model at this size
    std::string pool;       ///< presets: "cls" or "mean" head pooling ("" = the preset's)
    std::uint64_t seed = 0; ///< presets: seed of the random initialisation (as train --seed)
    Precision precision = Precision::Auto;
    int knnK = 5;
    int batchSize = 32;
    int pixelSide = 16;        ///< pixel baseline: images downscaled to side × side × 3
    nlohmann::json preprocess; ///< overrides of the model's preprocessing (model::LoadOptions::preprocess)
};

struct EvalReport {
    RetrievalMetrics metrics;
    std::size_t images = 0;
    std::size_t classes = 0; ///< distinct labels among the evaluated images
    std::string source;      ///< model path/preset, or "pixels 16x16"
    double seconds = 0;
    std::vector<std::string> warnings;
};

/// Embeds the split's images with the model (preset or .safetensors; see model::loadModel)
/// and scores them. Unreadable images are skipped with a warning. Progress: Scanning,
/// LoadingImages, then Embedding (images); `cancel` is polled per image and per batch
/// (throws core::Cancelled).
EvalReport evaluateModel(const std::string& model, const std::filesystem::path& dataDir, const EvalOptions& options,
                         const ProgressFn& progress = {}, const CancelToken* cancel = nullptr);

/// Baseline: the centre square downscaled to pixelSide² RGB, as a float vector, as the
/// embedding (retrieval metrics L2-normalise it).
EvalReport evaluatePixelBaseline(const std::filesystem::path& dataDir, const EvalOptions& options,
                                 const ProgressFn& progress = {}, const CancelToken* cancel = nullptr);

} // namespace vitrine::core::train
