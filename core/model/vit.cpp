#include "core/model/vit.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include <ATen/autocast_mode.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include "core/common/precision_scope.h"
#include "core/model/attention_cpu.h"
#include "core/model/int8_gemm.h"

namespace vitrine::core::model {

namespace {

// A weight's version counter, which the caches of converted weights key on. A model built
// under InferenceMode has inference tensors, which keep no counter (reading it throws), and
// cannot be changed in place outside InferenceMode either: 0 for them.
std::int64_t weightVersion(const torch::Tensor& t) { return t.is_inference() ? 0 : t._version(); }

// Linear layer as one GEMM with the bias fused (addmm). LibTorch 1.13's nn::Linear on 3-D
// input runs matmul + a separate bias add_, which costs ~10% in fp32 and much more under
// bf16 autocast (the add runs on a bf16 tensor the size of the activations).
torch::Tensor linear(const torch::Tensor& x, const torch::nn::Linear& lin) {
    auto sizes = x.sizes().vec();
    sizes.back() = lin->weight.size(0);
    return torch::addmm(lin->bias, x.reshape({-1, x.size(-1)}), lin->weight.t()).view(sizes);
}

bool useInt8() { return int8LinearsEnabled() && !torch::GradMode::is_enabled(); }

// The fused attention kernel (same as nn.MultiheadAttention's inference fast path) is only
// usable without autocast, without grad and when no probabilities are wanted.
bool useFusedAttention(const torch::Tensor& x) {
    static const bool disabled = [] {
        const char* v = std::getenv("VITRINE_NO_FUSED_ATTENTION");
        return v && *v && std::string(v) != "0";
    }();
    return !disabled && x.scalar_type() == torch::kFloat && !at::autocast::is_cpu_enabled() &&
           !at::autocast::is_enabled() && !torch::GradMode::is_enabled() && x.device().is_cpu();
}

// The fused block kernel can be turned off to measure it (VITRINE_NO_FUSED_BLOCK=1).
bool useFusedBlock() {
    static const bool enabled = [] {
        const char* v = std::getenv("VITRINE_NO_FUSED_BLOCK");
        return !(v && *v && std::string(v) != "0");
    }();
    return enabled;
}

// bf16 autocast inference (no grad, CPU, float input) of one or two images runs the fused
// blocks in bf16 (VITRINE_NO_FUSED_BLOCK=1 turns it off with the float32 one). Measured on an
// AMD EPYC Zen 4, ViT-Ti/16: 1.25x at batch 1, but 0.8-0.93x at batch 4-32, where the fused
// kernel's bf16 attention is slower than autocast's oneDNN matmuls; so only for small batches.
bool useBf16FastPath(const torch::Tensor& x) {
    return useFusedBlock() && x.size(0) <= 2 && at::autocast::is_cpu_enabled() &&
           at::autocast::get_autocast_cpu_dtype() == at::kBFloat16 && !torch::GradMode::is_enabled() &&
           x.device().is_cpu() && x.scalar_type() == torch::kFloat;
}

// Images per slice for inference without maps (0: whole batch; see VitImpl::forward): about
// 8 × 197 tokens of width 384, i.e. 8 images for ViT-Ti/S at 224 px, 4 for ViT-B. Not under
// autograd (training keeps its batch) nor bf16 autocast (no gain measured there).
std::int64_t inferenceSlice(const VitConfig& c, const torch::Tensor& images) {
    static const bool disabled = [] {
        const char* v = std::getenv("VITRINE_NO_SLICING");
        return v && *v && std::string(v) != "0";
    }();
    if (disabled || torch::GradMode::is_enabled() || at::autocast::is_cpu_enabled() || !images.device().is_cpu())
        return 0;
    const double tokens = c.numPatches() + c.prefixTokens();
    const double perImage = tokens * std::max(c.dim, 384);
    return std::clamp<std::int64_t>(std::llround(8.0 * 197 * 384 / perImage), 1, 8);
}

// timm's Attention: one fused qkv projection (with bias), heads split after it.
struct AttentionImpl : torch::nn::Module {
    AttentionImpl(int dim, int heads) : heads(heads) {
        qkv = register_module("qkv", torch::nn::Linear(torch::nn::LinearOptions(dim, 3 * dim).bias(true)));
        proj = register_module("proj", torch::nn::Linear(dim, dim));
    }

    // x: [B, T, D]. When attnOut is given, the slow path keeps the probabilities.
    torch::Tensor forward(const torch::Tensor& x, torch::Tensor* attnOut) {
        if (!attnOut && useFusedAttention(x)) {
            auto r = at::_native_multi_head_attention(x, x, x, x.size(2), heads, qkv->weight, qkv->bias, proj->weight,
                                                      proj->bias, c10::nullopt, /*need_weights=*/false);
            return std::get<0>(r);
        }
        return linear(attend(linear(x, qkv), attnOut), proj);
    }

    // softmax(Q Kᵀ / √hd) V from the fused projection's output [B, T, 3D]: [B, T, D], before
    // `proj`. When attnOut is given, it receives the probabilities [B, H, T, T].
    torch::Tensor attend(const torch::Tensor& qkvOut, torch::Tensor* attnOut) const {
        const auto b = qkvOut.size(0), t = qkvOut.size(1), d = qkvOut.size(2) / 3;
        const auto hd = d / heads;
        // float32 inference without maps (the int8 path's): the batch-parallel kernel reads Q,
        // K and V in place (core/model/attention_cpu.h), one single-threaded task per (image,
        // head). Even at batch 1 it beats ATen's matmuls, whose OpenBLAS threads hand over to
        // OpenMP's at every product: int8 ViT-S/16 at batch 1, 33.8 against 52.3 images/s
        // (AMD EPYC Zen 5, 2 threads); ViT-Ti/16, 58 against 124.
        if (!attnOut && attentionKernelEnabled() && qkvOut.scalar_type() == torch::kFloat &&
            !torch::GradMode::is_enabled() && !at::autocast::is_cpu_enabled() && qkvOut.device().is_cpu())
            return selfAttentionFromQkv(qkvOut, heads);
        // [B, T, 3, H, hd] -> [3, B, H, T, hd]
        auto qkv5 = qkvOut.reshape({b, t, 3, heads, hd}).permute({2, 0, 3, 1, 4});
        auto q = qkv5[0], k = qkv5[1], v = qkv5[2];
        const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
        auto attn = torch::matmul(q * scale, k.transpose(-2, -1)).softmax(-1);
        if (attnOut)
            *attnOut = attn;
        return torch::matmul(attn, v).transpose(1, 2).reshape({b, t, d});
    }

    int heads;
    torch::nn::Linear qkv{nullptr}, proj{nullptr};
};
TORCH_MODULE(Attention);

struct MlpImpl : torch::nn::Module {
    MlpImpl(int dim, int hidden, bool quickGelu) : quickGelu(quickGelu) {
        fc1 = register_module("fc1", torch::nn::Linear(dim, hidden));
        fc2 = register_module("fc2", torch::nn::Linear(hidden, dim));
    }
    // Exact (erf) GELU, as timm and torchvision use; QuickGELU for OpenAI's CLIP.
    torch::Tensor forward(const torch::Tensor& x) {
        auto h = linear(x, fc1);
        h = quickGelu ? h * torch::sigmoid(1.702 * h) : torch::gelu(h);
        return linear(h, fc2);
    }
    bool quickGelu;
    torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(Mlp);

// LayerScale: a learned per-channel gain on a residual branch ("ls1.gamma").
struct LayerScaleImpl : torch::nn::Module {
    explicit LayerScaleImpl(int dim) { gamma = register_parameter("gamma", torch::full({dim}, 1e-5)); }
    torch::Tensor forward(const torch::Tensor& x) { return x * gamma.to(x.dtype()); }
    torch::Tensor gamma;
};
TORCH_MODULE(LayerScale);

struct BlockImpl : torch::nn::Module {
    explicit BlockImpl(const VitConfig& c) {
        auto ln = [&] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.dim}).eps(c.layerNormEps)); };
        norm1 = register_module("norm1", ln());
        attn = register_module("attn", Attention(c.dim, c.heads));
        if (c.layerScale)
            ls1 = register_module("ls1", LayerScale(c.dim));
        norm2 = register_module("norm2", ln());
        mlp = register_module("mlp", Mlp(c.dim, static_cast<int>(std::lround(c.dim * c.mlpRatio)), c.quickGelu));
        if (c.layerScale)
            ls2 = register_module("ls2", LayerScale(c.dim));
    }
    torch::Tensor forward(torch::Tensor x, torch::Tensor* attnOut) {
        // Inference without attention maps: the whole pre-norm block in one ATen kernel (the
        // one nn.TransformerEncoderLayer's fast path uses; exact GELU, same maths, fewer passes
        // over the activations and no intermediate allocations between the ops). It has no
        // LayerScale, so blocks with one take the path below.
        if (useInt8() && x.device().is_cpu())
            return forwardInt8(x, attnOut);
        if (!ls1 && !mlp->quickGelu && !attnOut && useFusedAttention(x) && useFusedBlock()) {
            return at::_transformer_encoder_layer_fwd(
                x, x.size(2), attn->heads, attn->qkv->weight, attn->qkv->bias, attn->proj->weight, attn->proj->bias,
                /*use_gelu=*/true, /*norm_first=*/true, norm1->options.eps(), norm1->weight, norm1->bias, norm2->weight,
                norm2->bias, mlp->fc1->weight, mlp->fc1->bias, mlp->fc2->weight, mlp->fc2->bias);
        }
        auto a = attn->forward(norm1->forward(x), attnOut);
        x = x + (ls1 ? ls1->forward(a) : a).to(x.dtype());
        auto m = mlp->forward(norm2->forward(x));
        return x + (ls2 ? ls2->forward(m) : m).to(x.dtype());
    }

    // bf16 inference: the fused block kernel on bf16 activations with bf16 copies of the
    // weights made once (not cast again on every call as autocast does), refreshed when an
    // optimizer or a live-weights update changes a parameter. x: [B, T, D] bf16.
    torch::Tensor forwardBf16(const torch::Tensor& x) {
        const auto& w = bf16Weights();
        return at::_transformer_encoder_layer_fwd(x, x.size(2), attn->heads, w[0], w[1], w[2], w[3], /*use_gelu=*/true,
                                                  /*norm_first=*/true, norm1->options.eps(), w[4], w[5], w[6], w[7],
                                                  w[8], w[9], w[10], w[11]);
    }

    // int8 inference (Precision::Int8, no gradients): every Linear as an integer GEMM on
    // activations quantised per token (core/model/int8_gemm.h), LayerNorm fused into the
    // quantisation, the residual adds and LayerScale into the dequantisation, and the MLP's
    // hidden layer never written in float. Attention itself stays float32. x: [B, T, D] float.
    // `in`: this block's first LayerNorm of x, quantised, when the block before made it; `next`:
    // the block after, whose first LayerNorm this one's last pass then quantises into nextIn.
    torch::Tensor forwardInt8(const torch::Tensor& xIn, torch::Tensor* attnOut, const QuantisedRows* in = nullptr,
                              BlockImpl* next = nullptr, std::optional<QuantisedRows>* nextIn = nullptr) {
        static const int levels = int8ActivationLevels();
        const auto x = xIn.to(torch::kFloat).contiguous();
        const auto b = x.size(0), t = x.size(1), d = x.size(2);
        const auto h1 = in ? *in : layerNormQuantise(x, norm1->weight, norm1->bias, norm1->options.eps(), levels);
        torch::Tensor o;
        if (!attnOut && attentionKernelEnabled()) {
            // Q, K and V dequantised by the attention kernel's tasks, per head, as they read them.
            o = selfAttentionFromProducts(m_qkv8.products(h1, attn->qkv->weight, attn->qkv->bias), b, attn->heads);
        } else {
            o = attn->attend(m_qkv8(h1, attn->qkv->weight, attn->qkv->bias).view({b, t, 3 * d}), attnOut);
        }
        const torch::Tensor none;
        const auto [y, h2] = m_proj8.normed(quantiseRows(o, levels), attn->proj->weight, attn->proj->bias,
                                            ls1 ? ls1->gamma : none, x, norm2->weight, norm2->bias,
                                            norm2->options.eps(), levels);
        const auto hidden = m_fc1_8.activated(h2, mlp->fc1->weight, mlp->fc1->bias, mlp->quickGelu, levels);
        if (next && nextIn) {
            auto [z, h] = m_fc2_8.normed(hidden, mlp->fc2->weight, mlp->fc2->bias, ls2 ? ls2->gamma : none, y,
                                         next->norm1->weight, next->norm1->bias, next->norm1->options.eps(), levels);
            *nextIn = std::move(h);
            return z.view({b, t, d});
        }
        return m_fc2_8(hidden, mlp->fc2->weight, mlp->fc2->bias, ls2 ? ls2->gamma : none, y).view({b, t, d});
    }

    torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
    Attention attn{nullptr};
    Mlp mlp{nullptr};
    LayerScale ls1{nullptr}, ls2{nullptr};

private:
    const std::vector<torch::Tensor>& bf16Weights() {
        const std::vector<torch::Tensor> src{attn->qkv->weight, attn->qkv->bias, attn->proj->weight, attn->proj->bias,
                                             norm1->weight,     norm1->bias,     norm2->weight,      norm2->bias,
                                             mlp->fc1->weight,  mlp->fc1->bias,  mlp->fc2->weight,   mlp->fc2->bias};
        std::vector<std::pair<const void*, std::int64_t>> key;
        for (const auto& t : src)
            key.emplace_back(t.data_ptr(), weightVersion(t));
        std::lock_guard lock(m_bf16Mutex);
        if (key != m_bf16Key) {
            torch::NoGradGuard noGrad;
            m_bf16.clear();
            for (const auto& t : src)
                m_bf16.push_back(t.detach().to(torch::kBFloat16).contiguous());
            m_bf16Key = std::move(key);
        }
        return m_bf16;
    }
    Int8Linear m_qkv8, m_proj8, m_fc1_8, m_fc2_8;
    std::mutex m_bf16Mutex;
    std::vector<torch::Tensor> m_bf16;
    std::vector<std::pair<const void*, std::int64_t>> m_bf16Key;
};
TORCH_MODULE(Block);

void truncNormal(torch::Tensor t, double std) {
    torch::NoGradGuard ng;
    t.normal_(0.0, std).clamp_(-2.0 * std, 2.0 * std);
}

} // namespace

VitImpl::VitImpl(const VitConfig& config) : m_config(config) {
    m_config.validate();
    const auto& c = m_config;
    // A named holder so the conv's parameters are "patch_embed.proj.*" as in timm.
    auto holder = std::make_shared<torch::nn::Module>("PatchEmbed");
    patchEmbed = holder->register_module(
        "proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(c.inChannels, c.dim, c.patchSize).stride(c.patchSize)));
    register_module("patch_embed", holder);
    clsToken = register_parameter("cls_token", torch::zeros({1, 1, c.dim}));
    if (c.distToken)
        distToken = register_parameter("dist_token", torch::zeros({1, 1, c.dim}));
    if (c.registers > 0)
        registerTokens = register_parameter("register_tokens", torch::zeros({1, c.registers, c.dim}));
    posEmbed = register_parameter("pos_embed", torch::zeros({1, c.numPatches() + c.positionedPrefix(), c.dim}));
    if (c.preNorm)
        normPre = register_module("norm_pre",
                                  torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.dim}).eps(c.layerNormEps)));
    blocks = register_module("blocks", torch::nn::ModuleList());
    for (int i = 0; i < c.depth; ++i)
        blocks->push_back(Block(c));
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.dim}).eps(c.layerNormEps)));
    if (c.embedDim > 0)
        head = register_module("head", torch::nn::Linear(c.dim, c.embedDim));

    // timm's init: truncated normal(0.02) for tokens and linears, zero biases.
    truncNormal(posEmbed, 0.02);
    truncNormal(clsToken, 1e-6);
    for (auto& m : modules(/*include_self=*/false)) {
        if (auto* lin = m->as<torch::nn::Linear>()) {
            truncNormal(lin->weight, 0.02);
            torch::NoGradGuard ng;
            lin->bias.zero_();
        }
    }
}

VitOutput VitImpl::forward(const torch::Tensor& images, bool withAttention) {
    const auto& c = m_config;
    TORCH_CHECK(images.dim() == 4 && images.size(1) == c.inChannels && images.size(2) == c.imageSize &&
                    images.size(3) == c.imageSize,
                "Vit: expected images [B, ", c.inChannels, ", ", c.imageSize, ", ", c.imageSize, "], got ",
                images.sizes());
    const auto b = images.size(0);
    // float32 / int8 inference of a large batch runs in slices of a few images: the MLP's
    // hidden activations of 8 ViT-S/16 images (10 MB) stay in the caches, those of 32 do not.
    // Measured on an AMD EPYC Zen 4, 2 threads, images/s at batch 32 / 8 / 4: ViT-S/16 float32
    // 12.4 / 15.2-16 / 17, int8 17.4 / 19.5 / 17.8; ViT-Ti/16 float32 39 / 50 / 46. bf16
    // autocast is as fast at 16-32 as at 8 and slower at 4, so it keeps whole batches.
    // Not with attention maps: each slice would drop them (the Inspector's statistics ask for a batch of maps).
    if (const auto slice = withAttention ? 0 : inferenceSlice(c, images); slice > 0 && b > slice) {
        std::vector<VitOutput> parts;
        for (std::int64_t i = 0; i < b; i += slice)
            parts.push_back(forward(images.slice(0, i, std::min(b, i + slice)), false));
        auto cat = [&](torch::Tensor VitOutput::*field) {
            std::vector<torch::Tensor> v;
            for (const auto& p : parts)
                v.push_back(p.*field);
            return torch::cat(v, 0);
        };
        VitOutput out;
        out.cls = cat(&VitOutput::cls);
        out.patches = cat(&VitOutput::patches);
        out.prefix = cat(&VitOutput::prefix);
        out.embedding = cat(&VitOutput::embedding);
        return out;
    }
    // The residual stream stays float32 under bf16 autocast: LayerNorm then sees float input
    // (LibTorch 1.13's CPU autocast leaves layer_norm alone), and only matmuls run in bf16.
    auto x = patchEmbed->forward(images).flatten(2).transpose(1, 2).to(torch::kFloat); // [B, N, D]
    std::vector<torch::Tensor> tokens{clsToken.expand({b, -1, -1}).to(torch::kFloat)};
    if (c.distToken)
        tokens.push_back(distToken.expand({b, -1, -1}).to(torch::kFloat));
    tokens.push_back(x);
    x = torch::cat(tokens, 1) + posEmbed.to(torch::kFloat);
    if (c.registers > 0) // registers go after the positioned prefix and have no position
        x = torch::cat({x.slice(1, 0, c.positionedPrefix()), registerTokens.expand({b, -1, -1}).to(torch::kFloat),
                        x.slice(1, c.positionedPrefix())},
                       1);

    if (normPre)
        x = normPre->forward(x);

    VitOutput out;
    if (!withAttention && !c.layerScale && !c.quickGelu && useBf16FastPath(x)) {
        // bf16 autocast inference without maps: the fused blocks on bf16 activations, with
        // autocast off inside them (their inputs are already bf16; see BlockImpl::forwardBf16).
        AutocastOffScope off;
        auto xb = x.to(torch::kBFloat16);
        for (const auto& m : *blocks)
            xb = m->as<BlockImpl>()->forwardBf16(xb);
        x = xb.to(torch::kFloat);
    } else {
        // int8: each block also quantises the next one's first LayerNorm in its last pass.
        const bool int8 = useInt8() && x.device().is_cpu();
        std::optional<QuantisedRows> in;
        for (std::size_t i = 0; i < blocks->size(); ++i) {
            auto* block = (*blocks)[i]->as<BlockImpl>();
            if (int8) {
                auto* next = i + 1 < blocks->size() ? (*blocks)[i + 1]->as<BlockImpl>() : nullptr;
                torch::Tensor a;
                std::optional<QuantisedRows> nextIn;
                x = block->forwardInt8(x, withAttention ? &a : nullptr, in ? &*in : nullptr, next, &nextIn);
                in = std::move(nextIn);
                if (withAttention)
                    out.attentions.push_back(a.to(torch::kFloat));
            } else if (withAttention) {
                torch::Tensor a;
                x = block->forward(x, &a);
                out.attentions.push_back(a.to(torch::kFloat));
            } else {
                x = block->forward(x, nullptr);
            }
        }
    }
    x = norm->forward(x).to(torch::kFloat);
    out.cls = x.select(1, 0);
    out.patches = x.slice(1, c.prefixTokens());
    out.prefix = x.slice(1, 0, c.prefixTokens());
    // DeiT's embedding is the mean of its class and distillation tokens, as DeiT does.
    const auto pooled = c.pool == "mean" ? out.patches.mean(1) : c.distToken ? (out.cls + x.select(1, 1)) / 2 : out.cls;
    if (head)
        out.embedding = torch::nn::functional::normalize(
            head->forward(pooled).to(torch::kFloat),
            torch::nn::functional::NormalizeFuncOptions().p(2).dim(1).eps(1e-12));
    else
        out.embedding = pooled;
    return out;
}

torch::Tensor VitImpl::embed(const torch::Tensor& images) { return forward(images, false).embedding; }

} // namespace vitrine::core::model
