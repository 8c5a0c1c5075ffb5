#include "core/model/vit_config.h"

#include <cstdint>
#include <map>

#include <nlohmann/json.hpp>

#include "core/common/error.h"

namespace vitrine::core::model {

namespace {

VitConfig make(const std::string& name, int image, int patch, int dim, int depth, int heads) {
    VitConfig c;
    c.name = name;
    c.imageSize = image;
    c.patchSize = patch;
    c.dim = dim;
    c.depth = depth;
    c.heads = heads;
    c.mlpRatio = 4.0;
    c.embedDim = 128;
    return c;
}

const std::map<std::string, VitConfig>& presets() {
    static const std::map<std::string, VitConfig> kPresets = {
        {"vit-tiny-16", make("vit-tiny-16", 224, 16, 192, 12, 3)},
        {"vit-small-16", make("vit-small-16", 224, 16, 384, 12, 6)},
        {"vit-base-16", make("vit-base-16", 224, 16, 768, 12, 12)},
        // Small enough to train from scratch on two CPU cores: 12x12 patch grid (fine enough
        // for attention heatmaps), 145 tokens, ~0.45 GFLOP per image forward.
        {"vit-micro", make("vit-micro", 96, 8, 192, 6, 3)},
    };
    return kPresets;
}

} // namespace

nlohmann::json VitConfig::toJson() const {
    return nlohmann::json{{"name", name},
                          {"image_size", imageSize},
                          {"patch_size", patchSize},
                          {"in_channels", inChannels},
                          {"dim", dim},
                          {"depth", depth},
                          {"heads", heads},
                          {"mlp_ratio", mlpRatio},
                          {"embed_dim", embedDim},
                          {"layer_norm_eps", layerNormEps},
                          {"pool", pool},
                          {"registers", registers},
                          {"dist_token", distToken},
                          {"layer_scale", layerScale},
                          {"pre_norm", preNorm},
                          {"quick_gelu", quickGelu},
                          {"preprocess", preprocess.toJson()}};
}

VitConfig VitConfig::fromJson(const nlohmann::json& j) {
    if (!j.is_object())
        throw Error("model config: expected a JSON object, got " + std::string(j.type_name()));
    VitConfig c;
    auto getInt = [&](const char* key, int& out, bool required) {
        if (!j.contains(key)) {
            if (required)
                throw Error(std::string("model config: missing field '") + key + "'");
            return;
        }
        // Range-checked before narrowing: 2^32 + 224 must not pass as 224.
        const auto& v = j[key];
        if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<std::uint64_t>() > INT32_MAX) ||
            (!v.is_number_unsigned() && (v.get<std::int64_t>() < INT32_MIN || v.get<std::int64_t>() > INT32_MAX)))
            throw Error(std::string("model config: field '") + key + "' must be an integer in the int range");
        out = v.get<int>();
    };
    if (j.contains("name") && j["name"].is_string())
        c.name = j["name"].get<std::string>();
    getInt("image_size", c.imageSize, true);
    getInt("patch_size", c.patchSize, true);
    getInt("in_channels", c.inChannels, false);
    getInt("dim", c.dim, true);
    getInt("depth", c.depth, true);
    getInt("heads", c.heads, true);
    getInt("embed_dim", c.embedDim, false);
    if (j.contains("mlp_ratio")) {
        if (!j["mlp_ratio"].is_number())
            throw Error("model config: field 'mlp_ratio' must be a number");
        c.mlpRatio = j["mlp_ratio"].get<double>();
    }
    if (j.contains("pool")) {
        if (!j["pool"].is_string())
            throw Error("model config: field 'pool' must be \"cls\" or \"mean\"");
        c.pool = j["pool"].get<std::string>();
    }
    getInt("registers", c.registers, false);
    for (const auto& [key, field] : {std::pair{"dist_token", &c.distToken}, std::pair{"layer_scale", &c.layerScale},
                                     std::pair{"pre_norm", &c.preNorm}, std::pair{"quick_gelu", &c.quickGelu}})
        if (j.contains(key)) {
            if (!j[key].is_boolean())
                throw Error(std::string("model config: field '") + key + "' must be true or false");
            *field = j[key].get<bool>();
        }
    if (j.contains("layer_norm_eps")) {
        if (!j["layer_norm_eps"].is_number())
            throw Error("model config: field 'layer_norm_eps' must be a number");
        c.layerNormEps = j["layer_norm_eps"].get<double>();
    }
    // Checkpoints written before preprocessing travelled with the model used ImageNet's
    // mean/std with a plain resize to the input size: the defaults.
    if (j.contains("preprocess"))
        c.preprocess = image::PreprocessOptions{}.merged(j["preprocess"]);
    c.validate();
    return c;
}

VitConfig VitConfig::preset(const std::string& name) {
    auto it = presets().find(name);
    if (it == presets().end()) {
        std::string known;
        for (const auto& n : presetNames())
            known += (known.empty() ? "" : ", ") + n;
        throw Error("unknown model preset '" + name + "' (known: " + known + ")");
    }
    return it->second;
}

std::vector<std::string> VitConfig::presetNames() {
    std::vector<std::string> names;
    for (const auto& [n, c] : presets())
        names.push_back(n);
    return names;
}

void VitConfig::validate() const {
    auto fail = [&](const std::string& what) { throw Error("model config '" + name + "': " + what); };
    if (imageSize <= 0 || imageSize > 4096)
        fail("image size " + std::to_string(imageSize) + " out of range 1..4096");
    if (patchSize <= 0 || patchSize > imageSize)
        fail("patch size " + std::to_string(patchSize) + " must be in 1..image size");
    if (imageSize % patchSize != 0)
        fail("image size " + std::to_string(imageSize) + " is not a multiple of patch size " +
             std::to_string(patchSize));
    if (inChannels <= 0 || inChannels > 16)
        fail("in_channels " + std::to_string(inChannels) + " out of range");
    if (dim <= 0 || dim > 16384)
        fail("dim " + std::to_string(dim) + " out of range");
    if (depth <= 0 || depth > 256)
        fail("depth " + std::to_string(depth) + " out of range");
    if (heads <= 0 || dim % heads != 0)
        fail("dim " + std::to_string(dim) + " is not divisible by heads " + std::to_string(heads));
    if (!(mlpRatio > 0.0) || mlpRatio > 64.0)
        fail("mlp_ratio out of range");
    if (pool != "cls" && pool != "mean")
        fail("pool '" + pool + "' is not \"cls\" or \"mean\"");
    if (embedDim < 0 || embedDim > 65536)
        fail("embed_dim " + std::to_string(embedDim) + " out of range");
    if (!(layerNormEps > 0.0) || layerNormEps > 1.0)
        fail("layer_norm_eps out of range");
    if (registers < 0 || registers > 64)
        fail("registers " + std::to_string(registers) + " out of range 0..64");
}

} // namespace vitrine::core::model
