#pragma once
// Where the models shipped with Vitrine live (resources/models/, or share/vitrine/models/
// when installed). Torch-free so the UI can list them; defined in checkpoint.cpp.

#include <filesystem>
#include <string>
#include <vector>

namespace vitrine::core::model {

/// resources/models/default.safetensors: $VITRINE_DEFAULT_MODEL, then beside the executable
/// (../share/vitrine/models/, models/), then the source tree. Empty when none exists.
std::filesystem::path defaultModelPath();

/// resources/models/<name>.safetensors, searched like defaultModelPath(); empty when absent.
std::filesystem::path bundledModelPath(const std::string& name);

/// Names of the bundled models ("default", "vit-tiny-16-augreg", ...), "default" first.
std::vector<std::string> bundledModelNames();

/// A model rather than photos, for what is dropped on the window: a checkpoint file
/// (.safetensors, .pth, .pt, .bin, .ckpt) or a Hugging Face / timm model folder (config.json
/// beside model.safetensors or pytorch_model.bin). Looks at names only.
bool looksLikeModel(const std::filesystem::path& path);

} // namespace vitrine::core::model
