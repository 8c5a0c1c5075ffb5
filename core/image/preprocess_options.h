#pragma once
// How a model wants its input prepared. Part of the model, not a global: stored in Vitrine
// checkpoints (model config "preprocess"), read from a timm `config.json` or a Hugging Face
// `preprocessor_config.json` beside foreign weights, overridable on the command line.
// Torch-free so the UI can show it.

#include <array>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace vitrine::core::image {

enum class Interpolation { Bilinear, Bicubic };

/// "bilinear" / "bicubic" (also PIL's numbers 2 / 3 as strings); throws core::Error otherwise.
Interpolation parseInterpolation(const std::string& name);
const char* interpolationName(Interpolation i);

/// torchvision / timm eval transform:
///   Resize(floor(S / cropPct), interpolation, antialias) -> CenterCrop(S) -> ToTensor -> Normalize(mean, std)
struct PreprocessOptions {
    int size = 224;                                    ///< S, the model's input side
    std::array<float, 3> mean{0.485f, 0.456f, 0.406f}; ///< ImageNet by default
    std::array<float, 3> stddev{0.229f, 0.224f, 0.225f};
    /// Fraction of the resized image the centre crop keeps (timm's crop_pct, in (0, 1]):
    /// the shorter side is resized to floor(S / cropPct) first. 1 = resize straight to S.
    double cropPct = 1.0;
    Interpolation interpolation = Interpolation::Bilinear;

    /// The shorter side before the centre crop: floor(S / cropPct) (at least S).
    int resizeSize() const;
    /// {"mean": [...], "std": [...], "crop_pct": x, "interpolation": "bicubic"} (size is the model's).
    nlohmann::json toJson() const;
    /// This with the fields present in `j` replaced (mean, std, crop_pct, interpolation);
    /// throws core::Error with what is wrong (mean of the wrong length, std 0, crop_pct
    /// outside (0, 1], unknown interpolation).
    PreprocessOptions merged(const nlohmann::json& j) const;
    /// Throws core::Error when a value is out of range.
    void validate() const;
    /// "224 px · resize 248 bicubic · crop 0.9 · mean 0.5 0.5 0.5 · std 0.5 0.5 0.5"
    std::string describe() const;
    bool operator==(const PreprocessOptions& o) const = default;
};

/// Reads the preprocessing of the weights file `weights` from a sidecar in its folder:
/// timm's `config.json` (`pretrained_cfg` or top level: mean, std, crop_pct, interpolation)
/// or Hugging Face's `preprocessor_config.json` (image_mean, image_std, size / crop_size,
/// resample). Returns the fields found as PreprocessOptions::toJson keys, or nullopt when
/// there is no sidecar. Throws core::Error naming the sidecar when it is malformed.
std::optional<nlohmann::json> readPreprocessSidecar(const std::filesystem::path& weights);

} // namespace vitrine::core::image
