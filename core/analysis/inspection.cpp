#include "core/analysis/inspection.h"

#include <chrono>
#include <cmath>
#include <cstring>

#include "core/analysis/attention_tensors.h"
#include "core/common/error.h"
#include "core/image/decode.h"
#include "core/image/preprocess.h"
#include "core/model/checkpoint.h"
#include "core/model/vit.h"

namespace vitrine::core::analysis {

AttentionStack attentionStackFromTensors(const std::vector<torch::Tensor>& perLayer, std::int64_t batchIndex,
                                         std::int64_t extraTokens) {
    TORCH_CHECK(!perLayer.empty(), "no attention maps: run the model with withAttention = true");
    const auto& first = perLayer.front();
    TORCH_CHECK(first.dim() == 4 && first.size(2) == first.size(3), "attention must be [B, H, T, T], got ",
                first.sizes());
    TORCH_CHECK(batchIndex >= 0 && batchIndex < first.size(0), "batch index ", batchIndex, " out of range");
    AttentionStack stack;
    stack.layers = static_cast<int>(perLayer.size());
    stack.heads = static_cast<int>(first.size(1));
    TORCH_CHECK(extraTokens >= 0 && extraTokens + 1 < first.size(2), "bad extra token count ", extraTokens);
    stack.tokens = static_cast<int>(first.size(2) - extraTokens);
    // The class token and the patches; a distillation token's and registers' rows and
    // columns are left out, and each row renormalised over what remains.
    torch::Tensor keep;
    if (extraTokens > 0)
        keep = torch::cat(
            {torch::zeros({1}, torch::kLong), torch::arange(1 + extraTokens, first.size(2), torch::kLong)});
    const std::size_t perLayerValues = static_cast<std::size_t>(stack.heads) * stack.tokens * stack.tokens;
    stack.values.resize(perLayerValues * perLayer.size());
    for (std::size_t l = 0; l < perLayer.size(); ++l) {
        const auto& a = perLayer[l];
        TORCH_CHECK(a.sizes() == first.sizes(), "layer ", l, " attention is ", a.sizes(), ", layer 0's is ",
                    first.sizes());
        auto item = a[batchIndex].to(torch::kCPU, torch::kFloat32);
        if (extraTokens > 0) {
            item = item.index_select(1, keep).index_select(2, keep);
            item = item / item.sum(-1, /*keepdim=*/true).clamp_min(1e-12);
        }
        item = item.contiguous();
        std::memcpy(stack.values.data() + l * perLayerValues, item.data_ptr<float>(), perLayerValues * sizeof(float));
    }
    stack.validate();
    return stack;
}

cv::Mat tensorToMat(const torch::Tensor& matrix) {
    TORCH_CHECK(matrix.dim() == 1 || matrix.dim() == 2, "expected a 1-D or 2-D tensor, got ", matrix.sizes());
    const auto t = (matrix.dim() == 1 ? matrix.unsqueeze(0) : matrix).to(torch::kCPU, torch::kFloat32).contiguous();
    cv::Mat out(static_cast<int>(t.size(0)), static_cast<int>(t.size(1)), CV_32F);
    std::memcpy(out.data, t.data_ptr<float>(), static_cast<std::size_t>(t.numel()) * sizeof(float));
    return out;
}

InspectionResult inspectImage(model::VitImpl& model, const cv::Mat& rgb, const CancelToken* cancel) {
    if (rgb.empty() || rgb.type() != CV_8UC3)
        throw Error("inspect: the image must be a non-empty 8-bit RGB image (CV_8UC3)");
    if (cancel)
        cancel->check();
    const auto start = std::chrono::steady_clock::now();
    const auto& config = model.config();
    torch::InferenceMode inference;

    const image::PreprocessOptions pre = config.inputOptions();
    const torch::Tensor input = image::preprocess(rgb, pre).unsqueeze(0);
    const auto params = model.parameters();
    const torch::Device device = params.empty() ? torch::Device(torch::kCPU) : params.front().device();
    const auto out = model.forward(input.to(device), /*withAttention=*/true);

    InspectionResult result;
    result.config = config;
    result.attention = attentionStackFromTensors(out.attentions, 0, config.prefixTokens() - 1);
    result.patchTokens = tensorToMat(out.patches[0]);
    result.classToken = tensorToMat(out.cls[0]);
    if (config.registers > 0) {
        const auto first = config.prefixTokens() - config.registers;
        result.registerTokens = tensorToMat(out.prefix[0].slice(0, first));
        if (!out.attentions.empty()) {
            // Last layer, batch item 0, the class token's row: [H, T] -> mean over heads.
            const auto row = out.attentions.back()[0].select(1, 0).mean(0).to(torch::kFloat).cpu();
            for (int k = 0; k < config.registers; ++k)
                result.registerAttention.push_back(row[first + k].item<float>());
        }
    }
    result.embedding = tensorToMat(out.embedding[0]);
    result.input = image::toDisplayImage(input[0], pre);
    result.originalSize = rgb.size();
    const auto geometry = image::cropGeometry(rgb.cols, rgb.rows, pre);
    const auto r = geometry.sourceRect(rgb.cols, rgb.rows);
    const int x = static_cast<int>(std::lround(r[0]));
    const int y = static_cast<int>(std::lround(r[1]));
    result.crop = cv::Rect(x, y, static_cast<int>(std::lround(r[0] + r[2])) - x,
                           static_cast<int>(std::lround(r[1] + r[3])) - y) &
                  cv::Rect(0, 0, rgb.cols, rgb.rows);
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
}

} // namespace vitrine::core::analysis
