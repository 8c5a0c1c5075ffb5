#pragma once
// ViT hyper-parameters and presets. Torch-free so UI code can include it.

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/image/preprocess_options.h"

namespace vitrine::core::model {

struct VitConfig {
    std::string name = "custom";
    int imageSize = 224; ///< input side S (square)
    int patchSize = 16;  ///< P
    int inChannels = 3;
    int dim = 384; ///< D
    int depth = 12;
    int heads = 6;
    double mlpRatio = 4.0;
    int embedDim = 128; ///< projection head output E; 0 = no head (embedding = class token)
    double layerNormEps = 1e-6;
    /// What the projection head sees: "cls" (the class token, as timm/DINO) or "mean" (the
    /// mean of the patch tokens, which trains better from scratch on small data sets).
    std::string pool = "cls";
    /// Register tokens (DINOv2 "with registers", Darcet et al. 2023): learned tokens after
    /// the class token, without positional embedding, dropped at the output.
    int registers = 0;
    /// DeiT's distillation token, right after the class token (with positional embedding).
    bool distToken = false;
    /// LayerScale (CaiT, DINOv2): each residual branch multiplied by a learned per-channel
    /// gamma (blocks.i.ls1.gamma, blocks.i.ls2.gamma).
    bool layerScale = false;
    /// CLIP's visual tower: a LayerNorm before the blocks ("norm_pre", CLIP's ln_pre) ...
    bool preNorm = false;
    /// ... and QuickGELU, x * sigmoid(1.702 x), in the MLPs (OpenAI's CLIP weights).
    bool quickGelu = false;
    /// How input images are prepared for this model (mean/std, crop fraction, interpolation);
    /// its `size` is ignored: inputOptions() fills in imageSize.
    image::PreprocessOptions preprocess;

    /// The preprocessing every path uses for this model: `preprocess` at imageSize.
    image::PreprocessOptions inputOptions() const {
        auto o = preprocess;
        o.size = imageSize;
        return o;
    }

    int gridSize() const { return imageSize / patchSize; }
    /// Tokens before the patches: the class token, DeiT's distillation token, registers.
    int prefixTokens() const { return 1 + (distToken ? 1 : 0) + registers; }
    /// Tokens with a positional embedding besides the patches (class, distillation).
    int positionedPrefix() const { return 1 + (distToken ? 1 : 0); }
    int numPatches() const { return gridSize() * gridSize(); }
    int headDim() const { return dim / heads; }
    /// Output width of the model's embedding (E, or D when there is no head).
    int outputDim() const { return embedDim > 0 ? embedDim : dim; }

    nlohmann::json toJson() const;
    /// Throws core::Error on missing/invalid fields.
    static VitConfig fromJson(const nlohmann::json& j);
    /// "vit-tiny-16", "vit-small-16", "vit-base-16", "vit-micro" (CPU-friendly for training
    /// from scratch). Throws core::Error listing the known names.
    static VitConfig preset(const std::string& name);
    static std::vector<std::string> presetNames();
    /// Throws core::Error when dimensions are inconsistent (dim % heads, image % patch, ...).
    void validate() const;
};

} // namespace vitrine::core::model
