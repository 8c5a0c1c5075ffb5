#include "core/model/checkpoint_metadata.h"

#include "core/common/error.h"

namespace vitrine::core::model {

nlohmann::json parseCheckpointMetadata(const std::map<std::string, std::string>& md) {
    auto j = nlohmann::json::object();
    for (const auto& [k, v] : md) {
        auto parsed = nlohmann::json::parse(v, nullptr, /*allow_exceptions=*/false);
        j[k] = parsed.is_discarded() ? nlohmann::json(v) : parsed;
    }
    return j;
}

TrainingState parseTrainingState(const nlohmann::json& metadata, const std::filesystem::path& file) {
    if (!metadata.is_object() || !metadata.contains("training"))
        throw Error(file, "has no training state to resume (not written by vitrine-cli train)");
    const auto& t = metadata["training"];
    if (!t.is_object())
        throw Error(file, "training state in the metadata is not a JSON object");
    auto count = [&](const nlohmann::json& v, const std::string& what) {
        if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<std::uint64_t>() > INT64_MAX) ||
            v.get<std::int64_t>() < 0)
            throw Error(file, "training state: " + what + " is not a non-negative integer (" + v.dump() + ")");
        return v.get<std::int64_t>();
    };
    TrainingState s;
    if (t.contains("step"))
        s.step = count(t["step"], "'step'");
    if (t.contains("seed")) {
        const auto& v = t["seed"];
        if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<std::int64_t>() < 0))
            throw Error(file, "training state: 'seed' is not a non-negative integer (" + v.dump() + ")");
        s.seed = v.get<std::uint64_t>();
    }
    if (t.contains("optimizer_steps")) {
        const auto& steps = t["optimizer_steps"];
        if (!steps.is_object())
            throw Error(file, "training state: 'optimizer_steps' is not a JSON object");
        for (auto it = steps.begin(); it != steps.end(); ++it)
            s.optimizerSteps[it.key()] = count(it.value(), "optimizer step of '" + it.key() + "'");
    }
    return s;
}

} // namespace vitrine::core::model
