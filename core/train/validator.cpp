#include "core/train/validator.h"

#include <algorithm>

#include "core/train/embed_batch.h"

namespace vitrine::core::train {

Validator::Validator(torch::Tensor inputs, std::vector<int> labels, int batchSize)
    : m_inputs(std::move(inputs)), m_labels(std::move(labels)), m_batchSize(std::max(1, batchSize)) {
    TORCH_CHECK(m_labels.empty() || (m_inputs.defined() && m_inputs.size(0) == std::int64_t(m_labels.size())),
                "Validator: [N, 3, S, S] inputs with N labels expected");
}

RetrievalMetrics Validator::run(model::VitImpl& model, Precision precision, const ProgressFn& progress,
                                const CancelToken* cancel) const {
    auto emb = embedInputs(model, m_inputs, m_batchSize, precision, cancel, progress, StageKind::Validating);
    model.train();
    return metricsOf(emb, m_labels);
}

} // namespace vitrine::core::train
