#include "core/train/embed_batch.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "core/common/precision_scope.h"
#include "core/image/decode.h"

namespace vitrine::core::train {

cv::Mat loadResized(const std::filesystem::path& file, int shortSide) {
    image::DecodeOptions d;
    d.minShortSide = shortSide;
    cv::Mat rgb = image::decodeRgb(file, d);
    const double scale = double(shortSide) / double(std::min(rgb.cols, rgb.rows));
    const int w = std::max(shortSide, int(std::lround(rgb.cols * scale)));
    const int h = std::max(shortSide, int(std::lround(rgb.rows * scale)));
    cv::Mat out;
    cv::resize(rgb, out, cv::Size(w, h), 0, 0, scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    return out;
}

torch::Tensor embedInputs(model::VitImpl& model, const torch::Tensor& inputs, int batchSize, Precision precision,
                          const CancelToken* cancel, const ProgressFn& progress, StageKind kind) {
    model.eval();
    c10::InferenceMode guard;
    AutocastScope autocast(precision);
    std::vector<torch::Tensor> parts;
    const auto n = inputs.defined() ? inputs.size(0) : 0;
    report(progress, 0, n, kind);
    for (std::int64_t i = 0; i < n; i += batchSize) {
        if (cancel)
            cancel->check();
        const auto end = std::min<std::int64_t>(n, i + batchSize);
        parts.push_back(model.embed(inputs.slice(0, i, end)).to(torch::kFloat32));
        report(progress, end, n, kind);
    }
    if (parts.empty())
        return torch::empty({0, model.config().outputDim()});
    return torch::cat(parts);
}

RetrievalMetrics metricsOf(const torch::Tensor& embeddings, const std::vector<int>& labels, int knnK) {
    TORCH_CHECK(embeddings.dim() == 2 && embeddings.size(0) == std::int64_t(labels.size()),
                "metricsOf: [N, E] embeddings with N labels expected");
    auto e = embeddings.to(torch::kFloat32).contiguous();
    std::vector<float> rows(e.data_ptr<float>(), e.data_ptr<float>() + e.numel());
    return retrievalMetrics(rows, std::size_t(e.size(1)), labels, knnK);
}

} // namespace vitrine::core::train
