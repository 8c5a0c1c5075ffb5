#pragma once
// The Vision Transformer (Dosovitskiy et al. 2020), numerically equal to timm's and
// torchvision's implementations, with an optional L2-normalised projection head for
// metric learning. Includes torch: keep it out of widely included headers.

#include <torch/torch.h>

#include "core/model/vit_config.h"

namespace vitrine::core::model {

struct VitOutput {
    torch::Tensor cls;     ///< [B, D] float, class token after the final LayerNorm
    torch::Tensor patches; ///< [B, N, D] float, patch tokens after the final LayerNorm
    /// [B, P, D] float, every token before the patches after the final LayerNorm: the class
    /// token, a distillation token (DeiT), then the register tokens (DINOv2 with registers).
    torch::Tensor prefix;
    torch::Tensor
        embedding; ///< [B, E] L2-normalised head output of `cls` (pool "cls") or of the mean patch token (pool "mean"); without a head, that feature itself
    /// Only filled when requested: per layer [B, heads, N+1, N+1] softmax probabilities
    /// (token 0 is the class token; rows sum to 1).
    std::vector<torch::Tensor> attentions;
};

class VitImpl : public torch::nn::Module {
public:
    explicit VitImpl(const VitConfig& config);

    /// images: [B, 3, S, S] float32 (or bf16 under autocast), ImageNet-normalised,
    /// S == config().imageSize. withAttention adds per-layer attention maps (slower path).
    VitOutput forward(const torch::Tensor& images, bool withAttention = false);

    /// The fast path: [B, E] (or [B, D]) embeddings only.
    torch::Tensor embed(const torch::Tensor& images);

    const VitConfig& config() const { return m_config; }

    // Registered parameter/module names follow timm's layout exactly
    // (patch_embed.proj.weight, cls_token, pos_embed, blocks.N.norm1.weight,
    //  blocks.N.attn.qkv.weight, blocks.N.attn.proj.weight, blocks.N.mlp.fc1.weight,
    //  norm.weight, head.weight, head.bias), so named_parameters() round-trips with
    // checkpoint files.

private:
    VitConfig m_config;
    // Implementation members are defined in vit.cpp's layout (see named_parameters()).
public:
    torch::nn::Conv2d patchEmbed{nullptr}; // "patch_embed.proj"
    torch::Tensor clsToken;                // "cls_token"  [1, 1, D]
    torch::Tensor posEmbed;                // "pos_embed"  [1, N + positionedPrefix, D]
    torch::nn::LayerNorm normPre{nullptr}; // "norm_pre" (CLIP's ln_pre) when config().preNorm
    torch::Tensor distToken;               // "dist_token" [1, 1, D] (DeiT distilled only)
    torch::Tensor registerTokens;          // "register_tokens" [1, R, D] (DINOv2 with registers only)
    torch::nn::ModuleList blocks{nullptr}; // "blocks"
    torch::nn::LayerNorm norm{nullptr};    // "norm"
    torch::nn::Linear head{nullptr};       // "head" (absent when embedDim == 0)
};
TORCH_MODULE(Vit);

} // namespace vitrine::core::model
