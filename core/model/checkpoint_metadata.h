#pragma once
// A checkpoint's __metadata__ (string -> string in the safetensors header) as JSON, and the
// pieces of it Vitrine reads back: the model config (VitConfig::fromJson) and the training
// state that `--resume` continues from. Torch-free; every reader here is a fuzz target
// (tests/fuzz), so malformed values are core::Errors, never nlohmann exceptions.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace vitrine::core::model {

/// Each value parsed as JSON where it is JSON, else kept as a JSON string.
nlohmann::json parseCheckpointMetadata(const std::map<std::string, std::string>& metadata);

/// What `vitrine-cli train --resume` needs from metadata["training"].
struct TrainingState {
    std::int64_t step = 0;                              ///< optimizer steps already taken (>= 0)
    std::optional<std::uint64_t> seed;                  ///< the sampler seed of the run, when stored
    std::map<std::string, std::int64_t> optimizerSteps; ///< per parameter name (>= 0)
};

/// Reads metadata["training"] (as written by the trainer). Throws core::Error naming `file`
/// when it is missing, not an object, or has a field of the wrong type or range.
TrainingState parseTrainingState(const nlohmann::json& metadata, const std::filesystem::path& file);

} // namespace vitrine::core::model
