#pragma once
// Loading and saving models. Vitrine checkpoints are one .safetensors file in timm's
// tensor names with the model config and training state as JSON in __metadata__.
// Foreign checkpoints in timm/DINO, Hugging Face ViTModel and torchvision
// VisionTransformer layouts are recognised by their tensor names and converted;
// their architecture is inferred from the shapes.
//
// Intended usage:
//   auto loaded = loadModel("vit-small-16");                  // preset, random weights
//   auto loaded = loadModel("dino_vits16.safetensors", {.imageSize = 160});
//   loaded.model->embed(images);                              // see vit.h
//   saveCheckpoint("run.safetensors", *loaded.model, {{"epoch", 3}}, {{"optimizer.exp_avg.0", t}});

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/model/model_paths.h"
#include "core/model/vit.h"

namespace vitrine::core::model {

struct LoadOptions {
    int imageSize = 0;          ///< >0: run at this size (positional embeddings interpolated bicubically)
    int heads = 0;              ///< >0: override the head count (foreign files do not store it; default D/64)
    std::string device = "cpu"; ///< "cpu", "cuda" or "auto" (CUDA when available)
    /// Foreign (non-Vitrine) timm files' `head.*` is a classifier; it is dropped unless this is set,
    /// in which case it becomes the (L2-normalised) projection head.
    bool keepForeignHead = false;
    /// Seed of the random initialisation of presets (without it LibTorch seeds from the OS,
    /// and two runs of `embed --model vit-small-16` would disagree).
    std::uint64_t seed = 0;
    /// "cls" or "mean": what the embedding (or the head) is computed from (empty = the model's own).
    std::string pool;
    /// Overrides of the model's preprocessing (image::PreprocessOptions::merged keys: "mean",
    /// "std", "crop_pct", "interpolation"); null = none. Applied after the checkpoint's own or
    /// a sidecar's values.
    nlohmann::json preprocess;
    /// A model without a projection head (imported backbones) gets a D x D head initialised to
    /// the identity, so its embedding starts as the L2-normalised feature and can be trained.
    bool addIdentityHead = false;
};

struct LoadedModel {
    Vit model{nullptr}; ///< in eval() mode, on the requested device
    std::string source; ///< the file path or preset name it came from
    /// "vitrine", "timm", "huggingface", "torchvision", or "preset" (no file)
    std::string layout;
    bool weightsLoaded = false; ///< false: random initialisation (preset / missing default)
    /// __metadata__ entries (values parsed as JSON where they are JSON, else strings):
    /// "config" (VitConfig JSON), training state written by saveCheckpoint's caller, ...
    nlohmann::json metadata = nlohmann::json::object();
    /// Tensors in a Vitrine checkpoint that are not model parameters (e.g. optimizer state), CPU.
    std::map<std::string, torch::Tensor> extraTensors;
    std::vector<std::string> warnings; ///< things a person should know (random weights, dropped head, ...)
};

/// `presetOrPath`: a preset name (VitConfig::presetNames()), a bundled model's name
/// (bundledModelNames(), e.g. "vit-tiny-16-augreg"), a .safetensors path, or "" /
/// "default" for defaultModelPath() (falling back to vit-micro with random weights and a
/// warning when there is none). Throws core::Error naming the file and the problem: .pt/.pth
/// refused with how to convert; unrecognised layouts; missing / unexpected / mis-shaped
/// tensors all listed.
LoadedModel loadModel(const std::string& presetOrPath, const LoadOptions& options = {});

/// Writes the model's parameters (timm names, CPU; float32, or float16 when `half`, which
/// halves the file and is read back as float32) plus `extraTensors` (names must not clash with
/// parameters) atomically. `metadata` must be a JSON object; each top-level value is stored as
/// a __metadata__ string (strings verbatim, others as JSON text). "config" and "format" are
/// set from the model.
void saveCheckpoint(const std::filesystem::path& file, VitImpl& model,
                    const nlohmann::json& metadata = nlohmann::json::object(),
                    const std::map<std::string, torch::Tensor>& extraTensors = {}, bool half = false);

/// posEmbed: [1, 1 + g*g, D] float (class token first) -> [1, 1 + newGrid^2, D], bicubic
/// (align_corners=false, as timm's resample_abs_pos_embed). Class-token row unchanged.
torch::Tensor interpolatePosEmbed(const torch::Tensor& posEmbed, int newGrid, int prefix = 1);

/// Resolves "cpu" / "cuda" / "auto"; throws core::Error for CUDA on a machine without it.
torch::Device resolveDevice(const std::string& device);

} // namespace vitrine::core::model
