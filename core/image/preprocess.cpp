#include "core/image/preprocess.h"

#include <cmath>
#include <cstring>

#include <opencv2/core.hpp>
#include <torch/torch.h>

#include "core/image/decode.h"
#include "core/image/resample.h"

namespace vitrine::core::image {

std::array<double, 4> CropGeometry::sourceRect(int imageWidth, int imageHeight) const {
    const double sx = resizedWidth > 0 ? static_cast<double>(imageWidth) / resizedWidth : 1.0;
    const double sy = resizedHeight > 0 ? static_cast<double>(imageHeight) / resizedHeight : 1.0;
    return {cropX * sx, cropY * sy, size * sx, size * sy};
}

CropGeometry cropGeometry(int width, int height, int size) {
    PreprocessOptions o;
    o.size = size;
    return cropGeometry(width, height, o);
}

CropGeometry cropGeometry(int width, int height, const PreprocessOptions& options) {
    CropGeometry g;
    const int size = options.size;
    const int resize = options.resizeSize();
    g.size = size;
    // torchvision: the shorter side becomes S, the longer int(S * long / short) (truncated).
    if (width <= height) {
        g.resizedWidth = resize;
        g.resizedHeight = static_cast<int>(static_cast<long long>(resize) * height / width);
    } else {
        g.resizedHeight = resize;
        g.resizedWidth = static_cast<int>(static_cast<long long>(resize) * width / height);
    }
    // CenterCrop: int(round((resized - S) / 2)), round half to even like Python's round().
    auto offset = [&](int resized) { return static_cast<int>(std::nearbyint((resized - size) / 2.0)); };
    g.cropX = offset(g.resizedWidth);
    g.cropY = offset(g.resizedHeight);
    return g;
}

namespace {
// [..., 3, H, W] in [0, 1] -> standardised per channel.
at::Tensor normalize(const at::Tensor& t, const PreprocessOptions& options) {
    auto mean = torch::tensor({options.mean[0], options.mean[1], options.mean[2]}).view({3, 1, 1});
    auto sd = torch::tensor({options.stddev[0], options.stddev[1], options.stddev[2]}).view({3, 1, 1});
    return (t - mean) / sd;
}

ResampleCrop resampleCropFor(int width, int height, const PreprocessOptions& options) {
    const auto g = cropGeometry(width, height, options);
    ResampleCrop c;
    c.resizedWidth = g.resizedWidth;
    c.resizedHeight = g.resizedHeight;
    c.cropX = g.cropX;
    c.cropY = g.cropY;
    c.size = g.size;
    c.cubic = options.interpolation == Interpolation::Bicubic;
    c.mean = options.mean;
    c.stddev = options.stddev;
    return c;
}

// One set of filter taps and row buffers per thread (embed, training and the UI's workers
// preprocess concurrently); a data set's images mostly share a size, so the taps are reused.
ResampleScratch& threadScratch() {
    thread_local ResampleScratch scratch;
    return scratch;
}

at::Tensor resampled(const RgbView& view, const PreprocessOptions& options) {
    const ResampleCrop c = resampleCropFor(view.width, view.height, options);
    auto out = torch::empty({3, options.size, options.size}, torch::kFloat32);
    resampleCrop(view, c, out.data_ptr<float>(), threadScratch());
    return out;
}

DecodeOptions modelDecodeOptions(const PreprocessOptions& options) {
    DecodeOptions d;
    d.minShortSide = 2 * options.resizeSize();
    return d;
}
} // namespace

at::Tensor preprocess(const cv::Mat& rgb, const PreprocessOptions& options) {
    TORCH_CHECK(!rgb.empty() && rgb.type() == CV_8UC3, "preprocess: expected a CV_8UC3 RGB image");
    TORCH_CHECK(options.size > 0, "preprocess: size must be positive");
    // resampleCrop computes ToTensor -> _upsample_{bilinear,bicubic}2d_aa -> CenterCrop ->
    // Normalize in one pass over the pixels the crop reads (see resample.h for how close).
    RgbView view;
    view.data = rgb.data;
    view.stride = rgb.step;
    view.width = rgb.cols;
    view.height = rgb.rows;
    return resampled(view, options);
}

at::Tensor normalizeSquares(const std::vector<cv::Mat>& squares, const PreprocessOptions& options) {
    TORCH_CHECK(!squares.empty(), "normalizeSquares: no images");
    const int s = squares.front().rows;
    auto out = torch::empty({std::int64_t(squares.size()), s, s, 3}, torch::kUInt8);
    for (std::size_t i = 0; i < squares.size(); ++i) {
        const auto& m = squares[i];
        TORCH_CHECK(m.type() == CV_8UC3 && m.rows == s && m.cols == s, "normalizeSquares: image ", i, " is not ", s,
                    "x", s, " RGB");
        cv::Mat c = m.isContinuous() ? m : m.clone();
        std::memcpy(out[std::int64_t(i)].data_ptr(), c.data, std::size_t(s) * s * 3);
    }
    return normalize(out.permute({0, 3, 1, 2}).to(torch::kFloat32).div_(255.0f), options).contiguous();
}

at::Tensor preprocessBatch(const std::vector<cv::Mat>& images, const PreprocessOptions& options) {
    std::vector<at::Tensor> items;
    items.reserve(images.size());
    for (const auto& m : images)
        items.push_back(preprocess(m, options));
    if (items.empty())
        return torch::empty({0, 3, options.size, options.size});
    return torch::stack(items);
}

cv::Mat decodeForModel(const std::filesystem::path& file, const PreprocessOptions& options) {
    // The same decoder loadPreprocessed uses, asked for the whole image.
    return decodeRgbRegion(file, modelDecodeOptions(options), [](int w, int h) { return cv::Rect(0, 0, w, h); }).rgb;
}

at::Tensor loadPreprocessed(const std::filesystem::path& file, const PreprocessOptions& options) {
    TORCH_CHECK(options.size > 0, "loadPreprocessed: size must be positive");
    // Only the rows and columns the centre crop's filter reads are decoded.
    const auto region = decodeRgbRegion(file, modelDecodeOptions(options), [&](int w, int h) {
        const auto win = resampleWindow(w, h, resampleCropFor(w, h, options));
        return cv::Rect(win.x, win.y, win.width, win.height);
    });
    RgbView view;
    view.data = region.rgb.data;
    view.stride = region.rgb.step;
    view.width = region.width;
    view.height = region.height;
    view.x0 = region.x;
    view.y0 = region.y;
    return resampled(view, options);
}

cv::Mat toDisplayImage(const at::Tensor& chw, const PreprocessOptions& options) {
    TORCH_CHECK(chw.dim() == 3 && chw.size(0) == 3, "toDisplayImage: expected [3, S, S], got ", chw.sizes());
    auto mean = torch::tensor({options.mean[0], options.mean[1], options.mean[2]}).view({3, 1, 1});
    auto sd = torch::tensor({options.stddev[0], options.stddev[1], options.stddev[2]}).view({3, 1, 1});
    auto u8 = ((chw.detach().to(torch::kCPU, torch::kFloat) * sd + mean) * 255.0f)
                  .round()
                  .clamp(0, 255)
                  .to(torch::kUInt8)
                  .permute({1, 2, 0})
                  .contiguous();
    cv::Mat out(static_cast<int>(u8.size(0)), static_cast<int>(u8.size(1)), CV_8UC3);
    std::memcpy(out.data, u8.data_ptr(), static_cast<std::size_t>(u8.numel()));
    return out;
}

} // namespace vitrine::core::image
