#include "core/model/model_session.h"

#include <filesystem>

#include <torch/torch.h>

namespace vitrine::core::model {

void ModelSession::ensure(const std::string& spec, int imageSize, bool withHead) {
    if (loadedAs(spec, imageSize) && (!withHead || m_loaded.model->head))
        return;
    LoadOptions options;
    options.imageSize = imageSize;
    options.addIdentityHead = withHead;
    m_loaded = loadModel(spec, options);
    m_loaded.model->eval();
    m_spec = spec;
    m_imageSize = imageSize;
    m_weightsStep = -1;
}

void ModelSession::applyWeights(const std::map<std::string, torch::Tensor>& weights, std::int64_t step) {
    if (weights.count("head.weight") && !m_loaded.model->head)
        ensure(m_spec, m_imageSize, /*withHead=*/true);
    torch::NoGradGuard noGrad;
    for (auto& p : m_loaded.model->named_parameters(/*recurse=*/true)) {
        auto it = weights.find(p.key());
        if (it != weights.end() && it->second.sizes() == p.value().sizes())
            p.value().copy_(it->second);
    }
    m_weightsStep = step;
}

std::string ModelSession::describe() const {
    const auto& c = m_loaded.model->config();
    const std::string random = m_loaded.weightsLoaded ? "" : " · random weights";
    // Models that carry a name (bundled ones do) by what they are rather than by file name.
    if (m_loaded.metadata.contains("name") && m_loaded.metadata["name"].is_string())
        return m_loaded.metadata["name"].get<std::string>() + " · " + std::to_string(c.imageSize) + " px, patch " +
               std::to_string(c.patchSize) + random;
    std::string what = m_loaded.source;
    what = what.empty() || what == "default" ? "default model" : std::filesystem::path(what).filename().string();
    return what + " · " + c.name + ", " + std::to_string(c.imageSize) + " px, patch " + std::to_string(c.patchSize) +
           ", D " + std::to_string(c.dim) + ", " + std::to_string(c.depth) + " layers × " + std::to_string(c.heads) +
           " heads" + random;
}

} // namespace vitrine::core::model
