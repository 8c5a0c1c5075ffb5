#include "core/train/embed_batch.h"

#include <algorithm>
#include <cmath>

#include <ATen/autocast_mode.h>
#include <opencv2/imgproc.hpp>

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

torch::Tensor imagesToTensor(const std::vector<cv::Mat>& squares) {
    TORCH_CHECK(!squares.empty(), "imagesToTensor: no images");
    const int s = squares.front().rows;
    auto out = torch::empty({std::int64_t(squares.size()), s, s, 3}, torch::kUInt8);
    for (std::size_t i = 0; i < squares.size(); ++i) {
        const auto& m = squares[i];
        TORCH_CHECK(m.type() == CV_8UC3 && m.rows == s && m.cols == s, "imagesToTensor: image ", i,
                    " is not ", s, "x", s, " RGB");
        cv::Mat c = m.isContinuous() ? m : m.clone();
        std::memcpy(out[std::int64_t(i)].data_ptr(), c.data, std::size_t(s) * s * 3);
    }
    static const auto mean = torch::tensor({0.485f, 0.456f, 0.406f}).view({1, 3, 1, 1});
    static const auto stdev = torch::tensor({0.229f, 0.224f, 0.225f}).view({1, 3, 1, 1});
    return (out.permute({0, 3, 1, 2}).to(torch::kFloat32).div_(255.0f) - mean) / stdev;
}

AutocastScope::AutocastScope(Precision precision) {
    if (precision != Precision::BFloat16)
        return;
    m_active = true;
    m_was = at::autocast::is_cpu_enabled();
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
}

AutocastScope::~AutocastScope() {
    if (!m_active)
        return;
    at::autocast::set_cpu_enabled(m_was);
    if (!m_was)
        at::autocast::clear_cache();
}

torch::Tensor embedImages(model::VitImpl& model, const std::vector<cv::Mat>& squares, int batchSize,
                          Precision precision, const CancelToken* cancel) {
    model.eval();
    c10::InferenceMode guard;
    std::vector<torch::Tensor> parts;
    for (std::size_t i = 0; i < squares.size(); i += std::size_t(batchSize)) {
        if (cancel)
            cancel->check();
        std::vector<cv::Mat> chunk(squares.begin() + std::ptrdiff_t(i),
                                   squares.begin() + std::ptrdiff_t(std::min(squares.size(), i + std::size_t(batchSize))));
        AutocastScope autocast(precision);
        parts.push_back(model.embed(imagesToTensor(chunk)).to(torch::kFloat32));
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
