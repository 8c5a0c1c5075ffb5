#include "core/image/preprocess_options.h"

#include <cmath>
#include <iomanip>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/files.h"

namespace vitrine::core::image {

namespace fs = std::filesystem;

Interpolation parseInterpolation(const std::string& name) {
    if (name == "bilinear" || name == "2")
        return Interpolation::Bilinear;
    if (name == "bicubic" || name == "3")
        return Interpolation::Bicubic;
    throw Error("unknown interpolation '" + name + "' (use bilinear or bicubic)");
}

const char* interpolationName(Interpolation i) { return i == Interpolation::Bicubic ? "bicubic" : "bilinear"; }

int PreprocessOptions::resizeSize() const {
    // timm: scale_size = math.floor(img_size / crop_pct); a tiny epsilon keeps 224 / 0.875
    // from landing on 255.999... below 256.
    return std::max(size, static_cast<int>(std::floor(size / cropPct + 1e-9)));
}

nlohmann::json PreprocessOptions::toJson() const {
    return {{"mean", {mean[0], mean[1], mean[2]}},
            {"std", {stddev[0], stddev[1], stddev[2]}},
            {"crop_pct", cropPct},
            {"interpolation", interpolationName(interpolation)}};
}

PreprocessOptions PreprocessOptions::merged(const nlohmann::json& j) const {
    if (!j.is_object())
        throw Error("preprocessing: expected a JSON object, got " + std::string(j.type_name()));
    PreprocessOptions o = *this;
    auto triple = [&](const char* key, std::array<float, 3>& out) {
        if (!j.contains(key))
            return;
        const auto& v = j[key];
        if (v.is_number()) { // one value for all channels
            out.fill(v.get<float>());
            return;
        }
        if (!v.is_array() || v.size() != 3)
            throw Error(std::string("preprocessing: '") + key + "' must be 3 numbers (one per RGB channel), got " +
                        v.dump());
        for (std::size_t c = 0; c < 3; ++c) {
            if (!v[c].is_number())
                throw Error(std::string("preprocessing: '") + key + "' must be 3 numbers, got " + v.dump());
            out[c] = v[c].get<float>();
        }
    };
    triple("mean", o.mean);
    triple("std", o.stddev);
    if (j.contains("crop_pct")) {
        if (!j["crop_pct"].is_number())
            throw Error("preprocessing: 'crop_pct' must be a number in (0, 1], got " + j["crop_pct"].dump());
        o.cropPct = j["crop_pct"].get<double>();
    }
    if (j.contains("interpolation")) {
        const auto& v = j["interpolation"];
        o.interpolation = parseInterpolation(v.is_string() ? v.get<std::string>() : v.dump());
    }
    o.validate();
    return o;
}

void PreprocessOptions::validate() const {
    if (size <= 0 || size > 4096)
        throw Error("preprocessing: input size " + std::to_string(size) + " out of range 1..4096");
    for (int c = 0; c < 3; ++c) {
        if (!std::isfinite(mean[c]))
            throw Error("preprocessing: mean must be finite");
        if (!std::isfinite(stddev[c]) || !(stddev[c] > 0.0f))
            throw Error("preprocessing: std must be positive (a std of 0 divides by zero), got " +
                        std::to_string(stddev[c]));
    }
    if (!(cropPct > 0.0) || cropPct > 1.0)
        throw Error("preprocessing: crop fraction " + std::to_string(cropPct) + " is outside (0, 1]");
}

std::string PreprocessOptions::describe() const {
    std::ostringstream s;
    s << size << " px · resize " << resizeSize() << ' ' << interpolationName(interpolation) << " · crop "
      << std::setprecision(3) << cropPct << " · mean " << mean[0] << ' ' << mean[1] << ' ' << mean[2] << " · std "
      << stddev[0] << ' ' << stddev[1] << ' ' << stddev[2];
    return s.str();
}

namespace {

nlohmann::json readJson(const fs::path& file) {
    // A preprocessing config is a few hundred bytes; a megabyte is not one.
    const std::string text = readFile(file, std::size_t(1) << 20);
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw Error(file, std::string("is not valid JSON: ") + e.what());
    }
}

// PIL's resampling numbers as Hugging Face stores them.
std::string pilResample(const nlohmann::json& v) {
    if (v.is_number_integer()) {
        switch (v.get<int>()) {
        case 2: return "bilinear";
        case 3: return "bicubic";
        default: return "unsupported PIL filter " + v.dump();
        }
    }
    return v.is_string() ? v.get<std::string>() : v.dump();
}

} // namespace

std::optional<nlohmann::json> readPreprocessSidecar(const fs::path& weights) {
    const auto dir = weights.parent_path().empty() ? fs::path(".") : weights.parent_path();
    std::error_code ec;
    if (const auto timm = dir / "config.json"; fs::is_regular_file(timm, ec)) {
        const auto j = readJson(timm);
        const auto& cfg = j.contains("pretrained_cfg") && j["pretrained_cfg"].is_object() ? j["pretrained_cfg"] : j;
        nlohmann::json out = nlohmann::json::object();
        for (const char* key : {"mean", "std", "crop_pct", "interpolation"})
            if (cfg.contains(key))
                out[key] = cfg[key];
        // A Hugging Face model's config.json holds the architecture, not preprocessing: fall
        // through to preprocessor_config.json then.
        if (!out.empty()) {
            try {
                PreprocessOptions{}.merged(out);
            } catch (const Error& e) {
                throw Error(timm, e.what());
            }
            return out;
        }
    }
    if (const auto hf = dir / "preprocessor_config.json"; fs::is_regular_file(hf, ec)) {
        const auto j = readJson(hf);
        nlohmann::json out = nlohmann::json::object();
        if (j.contains("image_mean"))
            out["mean"] = j["image_mean"];
        if (j.contains("image_std"))
            out["std"] = j["image_std"];
        if (j.contains("resample"))
            out["interpolation"] = pilResample(j["resample"]);
        // size {"shortest_edge": R} with crop_size {"height": S}: resize to R, crop S.
        // size {"height": S, "width": S} alone resizes straight to S (taken as crop 1).
        auto side = [](const nlohmann::json& v) -> double {
            if (v.is_number())
                return v.get<double>();
            if (v.is_object()) {
                for (const char* k : {"shortest_edge", "height", "width"})
                    if (v.contains(k) && v[k].is_number())
                        return v[k].get<double>();
            }
            return 0.0;
        };
        const bool crop = j.value("do_center_crop", j.contains("crop_size"));
        if (crop && j.contains("size") && j.contains("crop_size")) {
            const double r = side(j["size"]), c = side(j["crop_size"]);
            if (r > 0 && c > 0)
                out["crop_pct"] = c / r;
        } else if (j.contains("size")) {
            out["crop_pct"] = 1.0;
        }
        try {
            PreprocessOptions{}.merged(out);
        } catch (const Error& e) {
            throw Error(hf, e.what());
        }
        return out;
    }
    return std::nullopt;
}

} // namespace vitrine::core::image
