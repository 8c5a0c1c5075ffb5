#pragma once
// The model-input resample in one pass over the pixels it needs: the antialiased resize of
// ATen / PIL (separable; same weights, same order: along each row first, then down the
// columns) of an 8-bit RGB image, evaluated only for the centre crop, then /255, clamp
// (bicubic), (x - mean) / std and HWC -> CHW. Equals ToTensor -> _upsample_{bilinear,bicubic}2d_aa
// -> crop -> Normalize up to float rounding (tests/core/test_image_resample.cpp measures it).
// Torch-free: preprocess.cpp wraps it into a tensor.

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace vitrine::core::image {

/// Per-axis taps of an antialiased resize from `inSize` to `outSize` samples, for the output
/// samples [first, first + count): output i reads input [start[i], start[i] + taps) with
/// weights[i * taps + k] (zero-padded past the filter's support, and clamped to the input).
struct ResampleTaps {
    int taps = 0;
    std::vector<int> start;
    std::vector<float> weights;
};

/// `cubic` selects the bicubic filter (a = -0.5, PIL's), else the triangle (bilinear).
ResampleTaps resampleTaps(int inSize, int outSize, int first, int count, bool cubic);

/// Reusable buffers for resampleCrop (one per thread; avoids per-image allocations).
struct ResampleScratch {
    std::vector<float> rows;   ///< a ring of horizontally resampled rows, interleaved RGB
    std::vector<float> line;   ///< one input row as floats in [0, 1], interleaved RGB
    std::vector<float> outRow; ///< one output row before it is split into planes
    std::vector<const float*> tapRows;
    ResampleTaps horizontal, vertical;
    int hKey[4] = {-1, -1, -1, -1}, vKey[4] = {-1, -1, -1, -1}; ///< inputs the taps were built for
};

struct ResampleCrop {
    int resizedWidth = 0, resizedHeight = 0; ///< the whole image after the resize
    int cropX = 0, cropY = 0, size = 0;      ///< the S x S crop, in resized pixels
    bool cubic = false;
    std::array<float, 3> mean{}, stddev{};
};

/// 8-bit interleaved RGB pixels of a width x height image, of which `data` may hold only a
/// window: its first byte is pixel (x0, y0), rows are `stride` bytes apart.
struct RgbView {
    const std::uint8_t* data = nullptr;
    std::size_t stride = 0;
    int width = 0, height = 0; ///< the whole image
    int x0 = 0, y0 = 0;
};

/// The input rows [y, y + height) and columns [x, x + width) resampleCrop reads: the window a
/// decoder has to provide.
struct InputWindow {
    int x = 0, y = 0, width = 0, height = 0;
};
InputWindow resampleWindow(int width, int height, const ResampleCrop& crop);

/// Writes [3, S, S] float32 (normalised) to `out`. `image` must cover resampleWindow().
void resampleCrop(const RgbView& image, const ResampleCrop& crop, float* out, ResampleScratch& scratch);

} // namespace vitrine::core::image
