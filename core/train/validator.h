#pragma once
// The validation split of a training run, prepared once and embedded whenever the trainer
// validates (before the first step, after epochs, at the end). Includes torch.

#include <cstddef>
#include <vector>

#include <torch/torch.h>

#include "core/common/job.h"
#include "core/common/precision.h"
#include "core/model/vit.h"
#include "core/train/metrics.h"

namespace vitrine::core::train {

class Validator {
public:
    Validator() = default;
    /// `inputs`: [N, 3, S, S] float32 prepared with the model's inputOptions() (undefined when
    /// N = 0); `labels`: N class ids. Embedded `batchSize` images at a time.
    Validator(torch::Tensor inputs, std::vector<int> labels, int batchSize = 32);

    /// Retrieval metrics need two images at least.
    bool canValidate() const { return m_labels.size() >= 2; }
    std::size_t size() const { return m_labels.size(); }

    /// Embeds the split with `model` under `precision` and scores it. Reports
    /// StageKind::Validating (images) before the first batch and after each, and polls
    /// `cancel` before every batch: a cancel ends it within one batch with core::Cancelled.
    /// Leaves the model in train() mode.
    RetrievalMetrics run(model::VitImpl& model, Precision precision, const ProgressFn& progress = {},
                         const CancelToken* cancel = nullptr) const;

private:
    torch::Tensor m_inputs;
    std::vector<int> m_labels;
    int m_batchSize = 32;
};

} // namespace vitrine::core::train
