#include "core/model/checkpoint.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include <ATen/CPUGeneratorImpl.h>
#include <optional>
#include <regex>
#include <set>

#include "core/common/error.h"
#include "core/common/files.h"
#include "core/model/checkpoint_metadata.h"
#include "core/model/model_catalogue.h"
#include "core/model/safetensors.h"
#include "core/model/torch_checkpoint.h"

namespace vitrine::core::model {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "vitrine-vit/1";

bool endsWith(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string joinLimited(const std::vector<std::string>& items, std::size_t limit = 12) {
    std::string out;
    for (std::size_t i = 0; i < items.size() && i < limit; ++i)
        out += (i ? ", " : "") + items[i];
    if (items.size() > limit)
        out += ", ... (" + std::to_string(items.size() - limit) + " more)";
    return out;
}

std::string shapeString(at::IntArrayRef s) {
    std::string out = "[";
    for (std::size_t i = 0; i < s.size(); ++i)
        out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

/// A torch.save() checkpoint read without running Python (torch_checkpoint.h): its state
/// dict as CPU tensors, copied out of the archive.
SafetensorsFile readTorchFile(const fs::path& file, std::vector<std::string>& notes) {
    const std::string bytes = readFile(file, std::size_t(16) << 30);
    const TorchCheckpoint ck = parseTorchCheckpoint(bytes, file);
    static const std::map<std::string, at::ScalarType> kTypes{
        {"F32", at::kFloat}, {"F16", at::kHalf},  {"BF16", at::kBFloat16}, {"F64", at::kDouble}, {"I64", at::kLong},
        {"I32", at::kInt},   {"I16", at::kShort}, {"I8", at::kChar},       {"U8", at::kByte},    {"BOOL", at::kBool}};
    SafetensorsFile out;
    for (const auto& [name, t] : ck.tensors) {
        const auto type = kTypes.at(t.dtype);
        const auto numel = static_cast<std::int64_t>(t.storage.size() / torchDtypeSize(t.dtype));
        // from_blob does not copy; clone() does, into a tensor of its own with the view's strides resolved.
        auto storage = torch::from_blob(const_cast<char*>(t.storage.data()), {numel},
                                        torch::TensorOptions().dtype(type));
        out.tensors[name] = storage.as_strided(t.shape, t.stride, t.offset).clone(at::MemoryFormat::Contiguous);
    }
    if (!ck.wrapper.empty())
        notes.push_back("weights read from the checkpoint's '" + ck.wrapper + "' entry");
    return out;
}

// A Vitrine file's architecture comes from the config in its metadata, which nothing ties to
// its tensors. Check every shape that sizes the model before building it, so that a damaged
// or crafted config (depth 256 x dim 16384 passes validate()) cannot make us allocate a model
// far larger than the file.
void checkConfigMatchesTensors(const fs::path& file, const VitConfig& c,
                               const std::map<std::string, torch::Tensor>& tensors) {
    auto expect = [&](const std::string& name, const std::vector<std::int64_t>& shape) {
        auto it = tensors.find(name);
        if (it == tensors.end() || it->second.sizes() != at::IntArrayRef(shape))
            throw Error(file, "the model config in its metadata does not match its tensors: '" + name + "' is " +
                                  (it == tensors.end() ? std::string("missing") : shapeString(it->second.sizes())) +
                                  ", the config needs " + shapeString(shape) + "; the file is damaged");
    };
    expect("patch_embed.proj.weight", {c.dim, c.inChannels, c.patchSize, c.patchSize});
    expect("pos_embed", {1, std::int64_t(c.numPatches()) + c.positionedPrefix(), c.dim});
    if (c.registers > 0)
        expect("register_tokens", {1, c.registers, c.dim});
    const auto hidden = static_cast<std::int64_t>(std::lround(c.dim * c.mlpRatio));
    for (int b = 0; b < c.depth; ++b)
        expect("blocks." + std::to_string(b) + ".mlp.fc1.weight", {hidden, c.dim});
    if (c.embedDim > 0)
        expect("head.weight", {c.embedDim, c.dim});
}

// Result of renaming a foreign state dict to timm names.
struct Converted {
    std::map<std::string, torch::Tensor> tensors; // timm names
    std::vector<std::string> unexpected;          // source names not understood
    std::vector<std::string> ignored;             // known but unused (classifier heads, poolers)
    std::string layout;
    double layerNormEps = 1e-6;
    bool preNorm = false;     // CLIP: ln_pre
    bool quickGelu = false;   // OpenAI CLIP
    std::string pool = "cls"; // MAE encoders: the mean of the patch tokens
    /// The preprocessing the weights were trained with, when the layout implies it (CLIP).
    std::optional<nlohmann::json> preprocess;
    std::vector<std::string> notes;
};

// "prefix" + "patch_embed.proj.weight": finds the prefix (e.g. "module.backbone.") from one anchor name.
std::optional<std::string> prefixOf(const std::map<std::string, torch::Tensor>& src, const std::string& anchor) {
    for (const auto& [name, t] : src)
        if (endsWith(name, anchor) && (name.size() == anchor.size() || name[name.size() - anchor.size() - 1] == '.'))
            return name.substr(0, name.size() - anchor.size());
    return std::nullopt;
}

// A per-block tensor of a foreign layout: `pattern` captures the block index and the rest of
// the name, `names` maps that rest to timm's. Returns false when `n` is not a block tensor;
// an unknown part of a block is recorded as unexpected.
bool convertBlockTensor(Converted& c, const std::string& full, const std::string& n, const torch::Tensor& t,
                        const std::regex& pattern, const std::map<std::string, std::string>& names) {
    std::smatch m;
    if (!std::regex_match(n, m, pattern))
        return false;
    if (auto it = names.find(m[2].str()); it != names.end())
        c.tensors["blocks." + m[1].str() + "." + it->second] = t;
    else
        c.unexpected.push_back(full);
    return true;
}

Converted convertTimm(const std::map<std::string, torch::Tensor>& src, const std::string& prefix, bool keepHead) {
    Converted c;
    c.layout = "timm";
    static const std::regex kBlock(
        R"(blocks\.\d+\.(norm1|norm2)\.(weight|bias)|blocks\.\d+\.attn\.(qkv|proj)\.(weight|bias)|blocks\.\d+\.mlp\.(fc1|fc2)\.(weight|bias)|blocks\.\d+\.(ls1|ls2)\.gamma)");
    for (const auto& [full, t] : src) {
        if (full.compare(0, prefix.size(), prefix) != 0) {
            // Beside a "backbone." (DINO's teacher/student), the self-supervised projection head.
            (!prefix.empty() && full.rfind("head.", 0) == 0 ? c.ignored : c.unexpected).push_back(full);
            continue;
        }
        std::string n = full.substr(prefix.size());
        if (n == "cls_token" || n == "pos_embed" || n == "patch_embed.proj.weight" || n == "patch_embed.proj.bias" ||
            n == "dist_token" || n == "register_tokens" || n == "norm.weight" || n == "norm.bias" ||
            std::regex_match(n, kBlock))
            c.tensors[n] = t;
        else if ((n == "head.weight" || n == "head.bias") && keepHead)
            c.tensors[n] = t;
        else if (n == "mask_token" || n.rfind("head.", 0) == 0 || n.rfind("head_dist", 0) == 0 ||
                 n.rfind("decoder", 0) == 0 || n == "fc_norm.weight" || n == "fc_norm.bias") {
            c.ignored.push_back(full); // classifiers, and MAE's decoder (decoder_embed, decoder_blocks, ...)
            if (n.rfind("decoder", 0) == 0 && c.pool != "mean") {
                c.pool = "mean"; // an MAE encoder: its features are the mean patch token
                c.notes.push_back("MAE encoder (its decoder set aside): embedding = the mean of the patch tokens");
            }
        } else
            c.unexpected.push_back(full);
    }
    return c;
}

Converted convertHf(const std::map<std::string, torch::Tensor>& src, const std::string& prefix) {
    Converted c;
    c.layout = "huggingface";
    c.layerNormEps = 1e-12; // transformers' ViTConfig default
    static const std::regex kLayer(R"(encoder\.layer\.(\d+)\.(.+))");
    std::map<std::string, std::map<std::string, torch::Tensor>> qkvParts; // "blocks.i.attn.qkv.weight" -> q/k/v
    for (const auto& [full, t] : src) {
        if (full.compare(0, prefix.size(), prefix) != 0) {
            (full.rfind("classifier.", 0) == 0 ? c.ignored : c.unexpected).push_back(full);
            continue;
        }
        std::string n = full.substr(prefix.size());
        std::smatch m;
        if (n == "embeddings.cls_token")
            c.tensors["cls_token"] = t;
        else if (n == "embeddings.position_embeddings")
            c.tensors["pos_embed"] = t;
        else if (n == "embeddings.patch_embeddings.projection.weight")
            c.tensors["patch_embed.proj.weight"] = t;
        else if (n == "embeddings.patch_embeddings.projection.bias")
            c.tensors["patch_embed.proj.bias"] = t;
        else if (n == "layernorm.weight" || n == "layernorm.bias")
            c.tensors["norm." + n.substr(10)] = t;
        else if (n.rfind("pooler.", 0) == 0 || n == "embeddings.mask_token")
            c.ignored.push_back(full);
        else if (std::regex_match(n, m, kLayer)) {
            const std::string b = "blocks." + m[1].str() + ".";
            const std::string rest = m[2].str();
            static const std::map<std::string, std::string> kMap = {
                {"layernorm_before.weight", "norm1.weight"},
                {"layernorm_before.bias", "norm1.bias"},
                {"layernorm_after.weight", "norm2.weight"},
                {"layernorm_after.bias", "norm2.bias"},
                {"attention.output.dense.weight", "attn.proj.weight"},
                {"attention.output.dense.bias", "attn.proj.bias"},
                {"intermediate.dense.weight", "mlp.fc1.weight"},
                {"intermediate.dense.bias", "mlp.fc1.bias"},
                {"output.dense.weight", "mlp.fc2.weight"},
                {"output.dense.bias", "mlp.fc2.bias"},
            };
            static const std::regex kQkv(R"(attention\.attention\.(query|key|value)\.(weight|bias))");
            std::smatch q;
            if (auto it = kMap.find(rest); it != kMap.end())
                c.tensors[b + it->second] = t;
            else if (std::regex_match(rest, q, kQkv))
                qkvParts[b + "attn.qkv." + q[2].str()][q[1].str()] = t;
            else
                c.unexpected.push_back(full);
        } else
            c.unexpected.push_back(full);
    }
    for (auto& [name, parts] : qkvParts) {
        if (parts.size() != 3) {
            for (const char* p : {"query", "key", "value"})
                if (!parts.count(p))
                    c.unexpected.push_back(name + " (missing its '" + p + "' part)");
            continue;
        }
        c.tensors[name] = torch::cat({parts["query"], parts["key"], parts["value"]}, 0);
    }
    return c;
}

// OpenAI CLIP's visual tower (also inside a whole CLIP model, under "visual."): conv1 without
// bias, class_embedding, positional_embedding, ln_pre, transformer.resblocks.*, ln_post and the
// projection proj [D, E], which becomes the head (its output is CLIP's image embedding).
Converted convertClip(const std::map<std::string, torch::Tensor>& src, const std::string& prefix) {
    Converted c;
    c.layout = "clip";
    c.layerNormEps = 1e-5;
    c.preNorm = true;
    c.quickGelu = true;
    c.preprocess = nlohmann::json{{"mean", {0.48145466, 0.4578275, 0.40821073}},
                                  {"std", {0.26862954, 0.26130258, 0.27577711}},
                                  {"crop_pct", 1.0},
                                  {"interpolation", "bicubic"}};
    c.notes.push_back("OpenAI CLIP layout: QuickGELU activations as in OpenAI's weights, CLIP's mean/std");
    static const std::regex kBlock(R"(transformer\.resblocks\.(\d+)\.(.+))");
    static const std::map<std::string, std::string> kMap = {
        {"ln_1.weight", "norm1.weight"},
        {"ln_1.bias", "norm1.bias"},
        {"ln_2.weight", "norm2.weight"},
        {"ln_2.bias", "norm2.bias"},
        {"attn.in_proj_weight", "attn.qkv.weight"},
        {"attn.in_proj_bias", "attn.qkv.bias"},
        {"attn.out_proj.weight", "attn.proj.weight"},
        {"attn.out_proj.bias", "attn.proj.bias"},
        {"mlp.c_fc.weight", "mlp.fc1.weight"},
        {"mlp.c_fc.bias", "mlp.fc1.bias"},
        {"mlp.c_proj.weight", "mlp.fc2.weight"},
        {"mlp.c_proj.bias", "mlp.fc2.bias"},
    };
    for (const auto& [full, t] : src) {
        if (full.compare(0, prefix.size(), prefix) != 0) {
            c.ignored.push_back(full); // the text tower of a whole CLIP model
            continue;
        }
        const std::string n = full.substr(prefix.size());
        if (n == "class_embedding")
            c.tensors["cls_token"] = t.reshape({1, 1, -1});
        else if (n == "positional_embedding")
            c.tensors["pos_embed"] = t.dim() == 2 ? t.unsqueeze(0) : t;
        else if (n == "conv1.weight") {
            c.tensors["patch_embed.proj.weight"] = t;
            c.tensors["patch_embed.proj.bias"] = torch::zeros({t.size(0)}, t.options());
        } else if (n == "ln_pre.weight" || n == "ln_pre.bias")
            c.tensors["norm_pre." + n.substr(7)] = t;
        else if (n == "ln_post.weight" || n == "ln_post.bias")
            c.tensors["norm." + n.substr(8)] = t;
        else if (n == "proj" && t.dim() == 2) {
            c.tensors["head.weight"] = t.t().contiguous();
            c.tensors["head.bias"] = torch::zeros({t.size(1)}, t.options());
        } else if (!convertBlockTensor(c, full, n, t, kBlock, kMap))
            c.unexpected.push_back(full);
    }
    return c;
}

Converted convertTorchvision(const std::map<std::string, torch::Tensor>& src, const std::string& prefix) {
    Converted c;
    c.layout = "torchvision";
    static const std::regex kLayer(R"(encoder\.layers\.encoder_layer_(\d+)\.(.+))");
    static const std::map<std::string, std::string> kMap = {
        {"ln_1.weight", "norm1.weight"},
        {"ln_1.bias", "norm1.bias"},
        {"ln_2.weight", "norm2.weight"},
        {"ln_2.bias", "norm2.bias"},
        {"self_attention.in_proj_weight", "attn.qkv.weight"},
        {"self_attention.in_proj_bias", "attn.qkv.bias"},
        {"self_attention.out_proj.weight", "attn.proj.weight"},
        {"self_attention.out_proj.bias", "attn.proj.bias"},
        {"mlp.0.weight", "mlp.fc1.weight"},
        {"mlp.0.bias", "mlp.fc1.bias"},
        {"mlp.3.weight", "mlp.fc2.weight"},
        {"mlp.3.bias", "mlp.fc2.bias"},
        {"mlp.linear_1.weight", "mlp.fc1.weight"}, // torchvision < 0.13
        {"mlp.linear_1.bias", "mlp.fc1.bias"},
        {"mlp.linear_2.weight", "mlp.fc2.weight"},
        {"mlp.linear_2.bias", "mlp.fc2.bias"},
    };
    for (const auto& [full, t] : src) {
        if (full.compare(0, prefix.size(), prefix) != 0) {
            c.unexpected.push_back(full);
            continue;
        }
        std::string n = full.substr(prefix.size());
        if (n == "class_token")
            c.tensors["cls_token"] = t;
        else if (n == "encoder.pos_embedding")
            c.tensors["pos_embed"] = t;
        else if (n == "conv_proj.weight" || n == "conv_proj.bias")
            c.tensors["patch_embed.proj." + n.substr(10)] = t;
        else if (n == "encoder.ln.weight" || n == "encoder.ln.bias")
            c.tensors["norm." + n.substr(11)] = t;
        else if (n.rfind("heads.", 0) == 0)
            c.ignored.push_back(full);
        else if (!convertBlockTensor(c, full, n, t, kLayer, kMap))
            c.unexpected.push_back(full);
    }
    return c;
}

// Architecture from timm-named shapes.
VitConfig inferConfig(const fs::path& file, const Converted& c, int headsOverride) {
    auto need = [&](const std::string& name, int dims) -> const torch::Tensor& {
        auto it = c.tensors.find(name);
        if (it == c.tensors.end())
            throw Error(file, c.layout + " layout: cannot infer the architecture, tensor '" + name + "' is missing");
        if (it->second.dim() != dims)
            throw Error(file, "tensor '" + name + "' has shape " + shapeString(it->second.sizes()) + ", expected " +
                                  std::to_string(dims) + " dimensions");
        return it->second;
    };
    VitConfig cfg;
    cfg.name = "imported-" + c.layout;
    const auto& pw = need("patch_embed.proj.weight", 4); // [D, C, P, P]
    cfg.dim = static_cast<int>(pw.size(0));
    cfg.inChannels = static_cast<int>(pw.size(1));
    cfg.patchSize = static_cast<int>(pw.size(2));
    if (pw.size(2) != pw.size(3))
        throw Error(file, "non-square patches " + shapeString(pw.sizes()) + " are not supported");
    // DeiT's distillation token (positioned), DINOv2's registers (not) and LayerScale.
    cfg.distToken = c.tensors.count("dist_token") > 0;
    if (auto it = c.tensors.find("register_tokens"); it != c.tensors.end()) {
        if (it->second.dim() != 3 || it->second.size(0) != 1 || it->second.size(2) != cfg.dim)
            throw Error(file, "register_tokens " + shapeString(it->second.sizes()) + " is not [1, R, " +
                                  std::to_string(cfg.dim) + "]");
        cfg.registers = static_cast<int>(it->second.size(1));
    }
    cfg.layerScale = c.tensors.count("blocks.0.ls1.gamma") > 0;
    const auto& pe = need("pos_embed", 3); // [1, prefix + N, D]
    const auto n = pe.size(1) - cfg.positionedPrefix();
    const auto g = static_cast<std::int64_t>(
        std::llround(std::sqrt(static_cast<double>(std::max<std::int64_t>(n, 0)))));
    if (n <= 0 || g * g != n)
        throw Error(file, "pos_embed " + shapeString(pe.sizes()) + " is not " + std::to_string(cfg.positionedPrefix()) +
                              " prefix token(s) + a square grid of patches");
    cfg.imageSize = static_cast<int>(g) * cfg.patchSize;
    int depth = 0;
    static const std::regex kIdx(R"(blocks\.(\d+)\..*)");
    for (const auto& [name, t] : c.tensors) {
        std::smatch m;
        if (std::regex_match(name, m, kIdx))
            depth = std::max(depth, std::stoi(m[1].str()) + 1);
    }
    if (depth == 0)
        throw Error(file, c.layout + " layout: no transformer blocks found");
    cfg.depth = depth;
    const auto& fc1 = need("blocks.0.mlp.fc1.weight", 2);
    cfg.mlpRatio = static_cast<double>(fc1.size(0)) / cfg.dim;
    if (auto it = c.tensors.find("head.weight"); it != c.tensors.end() && it->second.dim() == 2)
        cfg.embedDim = static_cast<int>(it->second.size(0));
    else
        cfg.embedDim = 0;
    if (headsOverride > 0)
        cfg.heads = headsOverride;
    else if (cfg.dim % 64 == 0)
        cfg.heads = cfg.dim / 64;
    else
        throw Error(file, "the head count is not stored in " + c.layout + " checkpoints and dim " +
                              std::to_string(cfg.dim) + " is not a multiple of 64; give it explicitly (--heads)");
    cfg.layerNormEps = c.layerNormEps;
    cfg.preNorm = c.preNorm;
    cfg.pool = c.pool;
    cfg.quickGelu = c.quickGelu;
    try {
        cfg.validate();
    } catch (const Error& e) {
        throw Error(file, std::string("inferred architecture is invalid: ") + e.what());
    }
    return cfg;
}

LoadedModel randomPreset(const std::string& name, const LoadOptions& options) {
    auto cfg = VitConfig::preset(name);
    if (options.imageSize > 0)
        cfg.imageSize = options.imageSize;
    if (options.heads > 0)
        cfg.heads = options.heads;
    if (!options.pool.empty())
        cfg.pool = options.pool;
    if (!options.preprocess.is_null())
        cfg.preprocess = cfg.preprocess.merged(options.preprocess);
    cfg.validate();
    LoadedModel out;
    {
        // Seeded, restoring the caller's random stream afterwards. (Not under the generator's
        // mutex: the init kernels take it themselves.)
        at::Generator gen = at::detail::getDefaultCPUGenerator();
        auto state = gen.get_state();
        gen.set_current_seed(options.seed);
        out.model = Vit(cfg);
        gen.set_state(state);
    }
    out.source = name;
    out.layout = "preset";
    out.weightsLoaded = false;
    out.metadata["config"] = cfg.toJson();
    out.warnings.push_back("preset '" + name + "' has no trained weights: using random initialisation");
    out.model->eval();
    out.model->to(resolveDevice(options.device));
    return out;
}

fs::path executableDir() {
    std::error_code ec;
    auto p = fs::read_symlink("/proc/self/exe", ec);
    return ec ? fs::path() : p.parent_path();
}

} // namespace

torch::Device resolveDevice(const std::string& device) {
    if (device == "cpu")
        return torch::kCPU;
    if (device == "cuda" || device == "auto") {
        if (torch::cuda::is_available())
            return torch::kCUDA;
        if (device == "auto")
            return torch::kCPU;
        throw Error("device 'cuda' requested but CUDA is not available (this LibTorch build or machine has no "
                    "CUDA GPU); use --device cpu");
    }
    throw Error("unknown device '" + device + "' (use cpu, cuda or auto)");
}

torch::Tensor interpolatePosEmbed(const torch::Tensor& posEmbed, int newGrid, int prefix) {
    TORCH_CHECK(posEmbed.dim() == 3 && posEmbed.size(0) == 1, "interpolatePosEmbed: expected [1, prefix+N, D], got ",
                posEmbed.sizes());
    TORCH_CHECK(prefix >= 0 && prefix < posEmbed.size(1), "interpolatePosEmbed: bad prefix ", prefix);
    const auto n = posEmbed.size(1) - prefix;
    const auto g = static_cast<std::int64_t>(std::llround(std::sqrt(static_cast<double>(n))));
    TORCH_CHECK(g * g == n, "interpolatePosEmbed: ", n, " patch positions are not a square grid");
    TORCH_CHECK(newGrid > 0, "interpolatePosEmbed: grid must be positive");
    if (g == newGrid)
        return posEmbed.clone();
    const auto d = posEmbed.size(2);
    auto cls = posEmbed.slice(1, 0, prefix);
    auto grid = posEmbed.slice(1, prefix).reshape({1, g, g, d}).permute({0, 3, 1, 2}).to(torch::kFloat);
    grid = torch::nn::functional::interpolate(grid, torch::nn::functional::InterpolateFuncOptions()
                                                        .size(std::vector<int64_t>{newGrid, newGrid})
                                                        .mode(torch::kBicubic)
                                                        .align_corners(false));
    grid = grid.permute({0, 2, 3, 1}).reshape({1, static_cast<int64_t>(newGrid) * newGrid, d}).to(posEmbed.dtype());
    return torch::cat({cls, grid}, 1);
}

namespace {
// Where bundled models live, most specific first.
std::vector<fs::path> modelDirs() {
    std::vector<fs::path> dirs;
    if (auto dir = executableDir(); !dir.empty()) {
        dirs.push_back(dir / ".." / "share" / "vitrine" / "models");
        dirs.push_back(dir / "models");
        dirs.push_back(dir / ".." / ".." / "share" / "vitrine" / "models"); // libexec/vitrine/
    }
#ifdef VITRINE_SOURCE_DIR
    dirs.push_back(fs::path(VITRINE_SOURCE_DIR) / "resources" / "models");
#endif
    return dirs;
}
} // namespace

fs::path bundledModelPath(const std::string& name) {
    if (name.empty() || name.find('/') != std::string::npos || name.find("..") != std::string::npos)
        return {};
    for (const auto& dir : modelDirs()) {
        std::error_code ec;
        const auto c = dir / (name + ".safetensors");
        if (fs::is_regular_file(c, ec))
            return fs::weakly_canonical(c, ec);
    }
    return {};
}

std::vector<std::string> bundledModelNames() {
    std::set<std::string> names;
    for (const auto& dir : modelDirs()) {
        std::error_code ec;
        for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
            if (it->path().extension() == ".safetensors")
                names.insert(it->path().stem().string());
        if (!names.empty())
            break;
    }
    std::vector<std::string> out;
    if (names.erase("default"))
        out.push_back("default");
    out.insert(out.end(), names.begin(), names.end());
    return out;
}

fs::path defaultModelPath() {
    if (const char* env = std::getenv("VITRINE_DEFAULT_MODEL"); env && *env) {
        std::error_code ec;
        if (fs::is_regular_file(env, ec))
            return fs::weakly_canonical(env, ec);
    }
    return bundledModelPath("default");
}

/// num_attention_heads from a Hugging Face config.json beside `weights`; 0 when absent.
static int headsFromConfigJson(const fs::path& weights) {
    std::error_code ec;
    const auto config = weights.parent_path() / "config.json";
    if (!fs::is_regular_file(config, ec))
        return 0;
    try {
        std::ifstream in(config);
        const auto j = nlohmann::json::parse(in);
        if (j.is_object() && j.contains("num_attention_heads") && j["num_attention_heads"].is_number_integer())
            return std::max(0, j["num_attention_heads"].get<int>());
    } catch (const std::exception&) {
        // A malformed config.json is reported by the preprocessing reader.
    }
    return 0;
}

bool looksLikeModel(const fs::path& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec))
        return fs::is_regular_file(path / "config.json", ec) && (fs::is_regular_file(path / "model.safetensors", ec) ||
                                                                 fs::is_regular_file(path / "pytorch_model.bin", ec));
    auto ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return std::tolower(ch); });
    return ext == ".safetensors" || ext == ".pth" || ext == ".pt" || ext == ".bin" || ext == ".ckpt";
}

LoadedModel loadModel(const std::string& presetOrPath, const LoadOptions& options) {
    if (presetOrPath.empty() || presetOrPath == "default") {
        auto path = defaultModelPath();
        if (path.empty()) {
            auto out = randomPreset("vit-micro", options);
            out.warnings.insert(
                out.warnings.begin(),
                "no default model found (resources/models/default.safetensors); falling back to vit-micro");
            return out;
        }
        return loadModel(path.string(), options);
    }
    const fs::path file(presetOrPath);
    std::error_code ec;
    const auto names = VitConfig::presetNames();
    if (!fs::exists(file, ec) && std::find(names.begin(), names.end(), presetOrPath) != names.end())
        return randomPreset(presetOrPath, options);
    if (!fs::exists(file, ec))
        if (auto bundled = bundledModelPath(presetOrPath); !bundled.empty())
            return loadModel(bundled.string(), options);
    if (!fs::exists(file, ec))
        if (auto downloaded = downloadedModelPath(presetOrPath); !downloaded.empty())
            return loadModel(downloaded.string(), options);

    // A Hugging Face folder (config.json + model.safetensors, preprocessor_config.json beside).
    if (fs::is_directory(file, ec)) {
        for (const char* name : {"model.safetensors", "pytorch_model.bin", "model.pth"})
            if (fs::is_regular_file(file / name, ec))
                return loadModel((file / name).string(), options);
        throw Error(file, "a folder without model.safetensors, pytorch_model.bin or model.pth");
    }
    auto ext = file.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return std::tolower(ch); });
    if (!fs::exists(file, ec)) {
        std::string known;
        for (const auto& n : names)
            known += (known.empty() ? "" : ", ") + n;
        if (catalogueEntry(presetOrPath))
            throw Error(file, "not downloaded yet: download it from the window (Model → Download a Model…) or "
                              "save " +
                                  catalogueEntry(presetOrPath)->url + " in " + downloadedModelsDir().string());
        throw Error(file, "no such file, and not a preset name (presets: " + known + ")");
    }
    SafetensorsFile st;
    std::vector<std::string> readNotes;
    if (ext == ".pt" || ext == ".pth" || ext == ".bin" || ext == ".ckpt" || ext == ".pkl" || ext == ".tar") {
        st = readTorchFile(file, readNotes);
    } else {
        try {
            st = readSafetensors(file);
        } catch (const Error&) {
            // A torch.save() file under another extension: read it as one. Checked only after
            // the safetensors parse failed, because a valid header length can start with the
            // same bytes.
            std::ifstream in(file, std::ios::binary);
            char magic[4] = {0, 0, 0, 0};
            in.read(magic, 4);
            if (!looksLikeTorchFile(std::string_view(magic, 4)))
                throw;
            st = readTorchFile(file, readNotes);
        }
    }
    LoadedModel out;
    out.source = file.string();
    out.warnings = readNotes;
    out.metadata = parseCheckpointMetadata(st.metadata);
    const bool isVitrine = out.metadata.contains("format") && out.metadata["format"].is_string() &&
                           out.metadata["format"].get<std::string>().rfind("vitrine", 0) == 0 &&
                           out.metadata.contains("config");

    Converted conv;
    if (auto p = prefixOf(st.tensors, "class_embedding"); p && st.tensors.count(*p + "conv1.weight"))
        conv = convertClip(st.tensors, *p);
    else if (auto p = prefixOf(st.tensors, "conv_proj.weight"))
        conv = convertTorchvision(st.tensors, *p);
    else if (auto p = prefixOf(st.tensors, "embeddings.patch_embeddings.projection.weight"))
        conv = convertHf(st.tensors, *p);
    else if (auto p = prefixOf(st.tensors, "patch_embed.proj.weight"))
        conv = convertTimm(st.tensors, *p, isVitrine || options.keepForeignHead);
    else {
        std::vector<std::string> some;
        for (const auto& [n, t] : st.tensors)
            some.push_back(n);
        throw Error(file,
                    "unrecognised tensor layout (expected timm/DINO 'patch_embed.proj.weight', Hugging Face "
                    "'embeddings.patch_embeddings.projection.weight' or torchvision 'conv_proj.weight'); found: " +
                        joinLimited(some, 8));
    }
    out.layout = isVitrine ? "vitrine" : conv.layout;
    out.warnings.insert(out.warnings.end(), conv.notes.begin(), conv.notes.end());

    VitConfig cfg;
    if (isVitrine) {
        try {
            cfg = VitConfig::fromJson(out.metadata["config"]);
        } catch (const Error& e) {
            throw Error(file, std::string("invalid model config in metadata: ") + e.what());
        }
        if (options.heads > 0)
            cfg.heads = options.heads;
        checkConfigMatchesTensors(file, cfg, conv.tensors);
        // Everything that is not a parameter is the caller's (optimizer state, ...).
        Vit probe(cfg);
        std::set<std::string> params;
        for (const auto& p : probe->named_parameters())
            params.insert(p.key());
        for (auto it = conv.tensors.begin(); it != conv.tensors.end();) {
            if (!params.count(it->first)) {
                out.extraTensors[it->first] = it->second;
                it = conv.tensors.erase(it);
            } else
                ++it;
        }
        for (const auto& n : conv.unexpected)
            out.extraTensors[n] = st.tensors.at(n);
        conv.unexpected.clear();
    } else {
        // The head count is not in the tensors' shapes: --heads, else a Hugging Face
        // config.json beside the weights (num_attention_heads), else dim / 64.
        int heads = options.heads;
        if (heads <= 0)
            heads = headsFromConfigJson(file);
        cfg = inferConfig(file, conv, heads);
        if (!conv.ignored.empty())
            out.warnings.push_back("ignored " + std::to_string(conv.ignored.size()) +
                                   " classifier/pooler tensors: " + joinLimited(conv.ignored, 4));
        // Foreign weights: their preprocessing comes from a timm config.json or a Hugging
        // Face preprocessor_config.json beside them; without one, ImageNet's defaults (say so).
        std::optional<nlohmann::json> sidecar;
        try {
            sidecar = image::readPreprocessSidecar(file);
        } catch (const Error& e) {
            // Overrides given on the command line stand in for a broken sidecar.
            if (options.preprocess.is_null())
                throw;
            out.warnings.push_back(std::string(e.what()) + "; using the preprocessing given instead");
        }
        const auto catalogued = catalogueEntryForFile(file);
        if (sidecar)
            cfg.preprocess = cfg.preprocess.merged(*sidecar);
        else if (catalogued && !catalogued->preprocess.empty())
            cfg.preprocess = cfg.preprocess.merged(nlohmann::json::parse(catalogued->preprocess));
        else if (conv.preprocess)
            cfg.preprocess = cfg.preprocess.merged(*conv.preprocess);
        else if (options.preprocess.is_null())
            out.warnings.push_back("no config.json or preprocessor_config.json beside the weights: using ImageNet "
                                   "mean/std and a plain resize; give --mean/--std/--crop-pct/--interpolation if the "
                                   "model was trained otherwise");
    }
    if (!options.preprocess.is_null()) {
        try {
            cfg.preprocess = cfg.preprocess.merged(options.preprocess);
        } catch (const Error& e) {
            throw Error(file, e.what());
        }
    }
    if (!options.pool.empty())
        cfg.pool = options.pool;
    const bool identityHead = options.addIdentityHead && cfg.embedDim == 0;
    if (identityHead)
        cfg.embedDim = cfg.dim;
    out.metadata["config"] = cfg.toJson();
    const int fileGrid = cfg.gridSize();
    // The input size: asked for, else the publisher's evaluation size for a catalogue
    // download (DINOv2 files carry a 518 px position grid but are evaluated at 224), else the file's.
    int imageSize = options.imageSize;
    if (imageSize <= 0 && !isVitrine)
        if (const auto catalogued = catalogueEntryForFile(file); catalogued && catalogued->imageSize > 0)
            imageSize = catalogued->imageSize;
    if (imageSize > 0 && imageSize != cfg.imageSize) {
        if (imageSize % cfg.patchSize != 0)
            throw Error(file, "image size " + std::to_string(imageSize) + " is not a multiple of the patch size " +
                                  std::to_string(cfg.patchSize));
        cfg.imageSize = imageSize;
    }
    cfg.validate();

    out.model = Vit(cfg);
    std::vector<std::string> missing, misShaped, nonFinite;
    std::set<std::string> used;
    {
        torch::NoGradGuard ng;
        if (identityHead) {
            out.model->head->weight.copy_(torch::eye(cfg.dim));
            out.model->head->bias.zero_();
        }
        for (auto& p : out.model->named_parameters()) {
            auto it = conv.tensors.find(p.key());
            if (identityHead && p.key().rfind("head.", 0) == 0)
                continue;
            if (it == conv.tensors.end()) {
                missing.push_back(p.key());
                continue;
            }
            used.insert(p.key());
            torch::Tensor src = it->second;
            if (p.key() == "pos_embed" && cfg.gridSize() != fileGrid && src.dim() == 3 &&
                src.size(1) == static_cast<int64_t>(fileGrid) * fileGrid + cfg.positionedPrefix())
                src = interpolatePosEmbed(src.to(torch::kFloat), cfg.gridSize(), cfg.positionedPrefix());
            if (src.sizes() != p.value().sizes()) {
                misShaped.push_back(p.key() + " (file " + shapeString(src.sizes()) + ", model " +
                                    shapeString(p.value().sizes()) + ")");
                continue;
            }
            if (!src.is_floating_point()) {
                misShaped.push_back(p.key() + " (integer dtype)");
                continue;
            }
            // A diverged run's NaNs would only show up later as a blank map or NaN distances.
            if (const auto bad = (~torch::isfinite(src)).sum().item<std::int64_t>(); bad > 0)
                nonFinite.push_back(p.key() + " (" + std::to_string(bad) + " of " + std::to_string(src.numel()) + ")");
            p.value().copy_(src);
        }
    }
    for (const auto& [n, t] : conv.tensors)
        if (!used.count(n))
            conv.unexpected.push_back(n);
    if (!missing.empty() || !misShaped.empty() || !conv.unexpected.empty()) {
        std::string msg = "does not match the " + out.layout + " ViT layout (inferred: dim " + std::to_string(cfg.dim) +
                          ", depth " + std::to_string(cfg.depth) + ", heads " + std::to_string(cfg.heads) + ", patch " +
                          std::to_string(cfg.patchSize) + ")";
        if (!missing.empty())
            msg += "; missing tensors: " + joinLimited(missing);
        if (!conv.unexpected.empty())
            msg += "; unexpected tensors: " + joinLimited(conv.unexpected);
        if (!misShaped.empty())
            msg += "; mis-shaped tensors: " + joinLimited(misShaped);
        throw Error(file, msg);
    }
    if (!nonFinite.empty())
        throw Error(file,
                    "has non-finite weights (NaN or infinity) in " + joinLimited(nonFinite) +
                        "; the file is damaged or was saved by a diverged training run; use an earlier checkpoint");
    if (fileGrid != cfg.gridSize())
        out.warnings.push_back("positional embeddings interpolated from a " + std::to_string(fileGrid) + "x" +
                               std::to_string(fileGrid) + " to a " + std::to_string(cfg.gridSize()) + "x" +
                               std::to_string(cfg.gridSize()) + " patch grid");
    out.weightsLoaded = true;
    out.model->eval();
    out.model->to(resolveDevice(options.device));
    return out;
}

void saveCheckpoint(const fs::path& file, VitImpl& model, const nlohmann::json& metadata,
                    const std::map<std::string, torch::Tensor>& extraTensors, bool half) {
    if (!metadata.is_object())
        throw Error(file, "checkpoint metadata must be a JSON object");
    std::map<std::string, at::Tensor> tensors;
    for (const auto& p : model.named_parameters()) {
        if (half && p.value().abs().max().item<double>() > 65504.0)
            throw Error(file, "'" + p.key() + "' has values beyond float16's range (65504); save it as float32");
        tensors[p.key()] = p.value().detach().to(torch::kCPU, half ? torch::kHalf : torch::kFloat).contiguous();
    }
    for (const auto& [name, t] : extraTensors) {
        if (tensors.count(name))
            throw Error(file, "extra tensor '" + name + "' clashes with a model parameter");
        tensors[name] = t.detach().to(torch::kCPU).contiguous();
    }
    std::map<std::string, std::string> md;
    for (auto it = metadata.begin(); it != metadata.end(); ++it)
        md[it.key()] = it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
    md["format"] = kFormat;
    md["config"] = model.config().toJson().dump();
    writeSafetensors(file, tensors, md);
}

} // namespace vitrine::core::model
