#include "core/model/vit.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <utility>
#include <vector>

#include <ATen/autocast_mode.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/native/quantized/PackedParams.h>

#include "core/common/precision_scope.h"
#include "core/model/attention_cpu.h"

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

// int8 inference (Precision::Int8): a Linear layer as oneDNN's dynamic quantised GEMM.
// Weights are quantised symmetric int8 per output channel and packed once, re-packed when an
// optimizer or a live-weights update changes them; activations are quantised per call (one
// scale per tensor, uint8) by the kernel itself. Only without gradients; float32 otherwise.
//
// One scale per tensor fails on a ViT's few "massive activation" tokens (a handful of rows
// whose largest value is many times every other row's): they set the scale and leave the
// other rows a few levels. So rows whose largest |value| exceeds kOutlierRowRatio times the
// median row's go through the float32 GEMM instead (about 1 % of the rows on real photos),
// and are zeroed in the int8 GEMM's input. Measured on the pretrained ViT-Ti/16 with 64 real
// pet photos, every Linear in int8 (fc2 included): least cosine to float32 0.77-0.87 without
// this, 0.991 (AVX2, 8-bit) and 0.996 (VNNI) with it. The 7-bit activations of CPUs without
// VNNI (below) have half the levels: on an AMD Zen 5 capped to AVX2, 64 demo photos, least
// cosine 0.9835 at 2x, 0.9901 at 1.5x, 0.9940 at 1.25x (14.5 images/s; float32 21.8 there, so
// `auto` never picks int8 on such a CPU and accuracy wins): 1.25x for 7 bits.
constexpr double kOutlierRowRatio = 2.0;
constexpr double kOutlierRowRatio7Bit = 1.25;

class Int8Linear {
public:
    /// `x` is scratch: its outlier rows may be overwritten (every caller passes a temporary).
    torch::Tensor operator()(const torch::Tensor& x, const torch::nn::Linear& lin) {
        auto sizes = x.sizes().vec();
        sizes.back() = lin->weight.size(0);
        // Without VNNI the int8 dot products go through 16-bit sums (vpmaddubsw) that saturate
        // on full-range activations (cosine to float32 fell to 0.93-0.96 on AVX2): 7-bit there.
        static const bool reduceRange = !(cpuFeatures().avx512vnni || cpuFeatures().amxInt8);
        auto x2 = x.reshape({-1, x.size(-1)}).contiguous();
        const auto [lo, hi] = at::aminmax(x2, 1);
        const auto rowMax = at::maximum(hi, lo.neg());
        const double ratio = reduceRange ? kOutlierRowRatio7Bit : kOutlierRowRatio;
        const auto outliers = (rowMax > rowMax.median() * ratio).nonzero().squeeze(1);
        const bool any = outliers.numel() > 0;
        torch::Tensor kept;
        if (any) {
            kept = x2.index_select(0, outliers);
            x2.index_fill_(0, outliers, 0.0);
        }
        auto y = packed(lin)->apply_dynamic(x2, reduceRange);
        if (any)
            y.index_copy_(0, outliers, torch::addmm(lin->bias, kept, lin->weight.t()));
        return y.view(sizes);
    }

private:
    c10::intrusive_ptr<LinearPackedParamsBase> packed(const torch::nn::Linear& lin) {
        const std::pair<const void*, std::int64_t> key{lin->weight.data_ptr(), weightVersion(lin->weight)};
        std::lock_guard lock(m_mutex);
        if (!m_packed || key != m_key) {
            static const auto prepack =
                c10::Dispatcher::singleton()
                    .findSchemaOrThrow("quantized::linear_prepack", "")
                    .typed<c10::intrusive_ptr<LinearPackedParamsBase>(at::Tensor, c10::optional<at::Tensor>)>();
            if (at::globalContext().qEngine() != at::QEngine::ONEDNN)
                at::globalContext().setQEngine(at::QEngine::ONEDNN);
            torch::NoGradGuard noGrad;
            const auto w = lin->weight.detach().to(torch::kFloat).contiguous();
            const auto scales = (w.abs().amax(1).to(torch::kDouble) / 127.0).clamp_min(1e-12);
            const auto zeros = torch::zeros({w.size(0)}, torch::kLong);
            const auto qw = at::quantize_per_channel(w, scales, zeros, 0, torch::kQInt8);
            m_packed = prepack.call(qw, lin->bias.defined()
                                            ? c10::optional<at::Tensor>(lin->bias.detach().to(torch::kFloat))
                                            : c10::nullopt);
            m_key = key;
        }
        return m_packed;
    }
    std::mutex m_mutex;
    c10::intrusive_ptr<LinearPackedParamsBase> m_packed;
    std::pair<const void*, std::int64_t> m_key{nullptr, -1};
};

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
        const auto b = x.size(0), t = x.size(1), d = x.size(2);
        const auto hd = d / heads;
        // [B, T, 3, H, hd] -> [3, B, H, T, hd]
        if (!attnOut && !useInt8() && useFusedAttention(x)) {
            auto r = at::_native_multi_head_attention(x, x, x, d, heads, qkv->weight, qkv->bias, proj->weight,
                                                      proj->bias, c10::nullopt, /*need_weights=*/false);
            return std::get<0>(r);
        }
        const bool int8 = useInt8();
        // From 4 images: below, the (image, head) tasks are too few to share out evenly and
        // ATen's own two-thread GEMMs were faster (ViT-S/16 at batch 1: 18 vs 22 images/s).
        if (!attnOut && b >= 4 && attentionKernelEnabled() && (int8 || useFusedAttention(x))) {
            // Inference without maps, float32 activations: the batch-parallel attention kernel
            // reads Q, K and V in place from the qkv projection (core/model/attention_cpu.h).
            auto o = selfAttentionFromQkv(int8 ? qkvInt8(x, qkv) : linear(x, qkv), heads);
            return int8 ? projInt8(o, proj) : linear(o, proj);
        }
        auto qkvOut = (int8 ? qkvInt8(x, qkv) : linear(x, qkv)).reshape({b, t, 3, heads, hd}).permute({2, 0, 3, 1, 4});
        auto q = qkvOut[0], k = qkvOut[1], v = qkvOut[2];
        torch::Tensor out;
        const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
        if (attnOut) {
            auto attn = torch::matmul(q * scale, k.transpose(-2, -1)).softmax(-1);
            *attnOut = attn;
            out = torch::matmul(attn, v);
        } else {
            // Same maths without materialising probabilities for the caller.
            auto attn = torch::matmul(q * scale, k.transpose(-2, -1)).softmax(-1);
            out = torch::matmul(attn, v);
        }
        out = out.transpose(1, 2).reshape({b, t, d});
        return int8 ? projInt8(out, proj) : linear(out, proj);
    }

    int heads;
    torch::nn::Linear qkv{nullptr}, proj{nullptr};
    Int8Linear qkvInt8, projInt8;
};
TORCH_MODULE(Attention);

struct MlpImpl : torch::nn::Module {
    MlpImpl(int dim, int hidden, bool quickGelu) : quickGelu(quickGelu) {
        fc1 = register_module("fc1", torch::nn::Linear(dim, hidden));
        fc2 = register_module("fc2", torch::nn::Linear(hidden, dim));
    }
    // Exact (erf) GELU, as timm and torchvision use; QuickGELU for OpenAI's CLIP.
    torch::Tensor forward(const torch::Tensor& x) {
        const bool int8 = useInt8();
        auto h = int8 ? fc1Int8(x, fc1) : linear(x, fc1);
        h = quickGelu ? h * torch::sigmoid(1.702 * h) : torch::gelu(h);
        return int8 ? fc2Int8(h, fc2) : linear(h, fc2);
    }
    bool quickGelu;
    torch::nn::Linear fc1{nullptr}, fc2{nullptr};
    Int8Linear fc1Int8, fc2Int8;
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
        if (!ls1 && !mlp->quickGelu && !attnOut && !useInt8() && useFusedAttention(x) && useFusedBlock()) {
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
    if (const auto slice = inferenceSlice(c, images); slice > 0 && b > slice) {
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
        for (const auto& m : *blocks) {
            auto* block = m->as<BlockImpl>();
            if (withAttention) {
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
