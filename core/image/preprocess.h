#pragma once
// Model input preparation, equal to torchvision's / timm's eval transform
//   Resize(floor(S / cropPct), bilinear|bicubic, antialias=True) -> CenterCrop(S) -> ToTensor()
//   -> Normalize(mean, std)
// on tensors. One pass (core/image/resample.h) computes it with ATen's antialiased filter
// weights, in ATen's order, for the crop's pixels only: equal to ATen's kernels up to float
// rounding (on 940 photos |diff| <= 1.2e-6 bilinear, 3.3e-6 bicubic; bilinear is bit-equal
// when the compiler fuses multiply-adds as ATen's AVX2 build does). The options belong to the model
// (VitConfig::inputOptions()); training, validation, embed, the Inspector and query-by-image
// all come through here, so one file gives the same pixels everywhere.

#include <array>
#include <filesystem>
#include <vector>

#include <ATen/core/Tensor.h>
#include <opencv2/core/mat.hpp>

#include "core/image/preprocess_options.h"

namespace vitrine::core::image {

/// Where the model's S x S input lies in the original image, for mapping attention/patch
/// maps back onto the photo: the image is scaled to resizedWidth x resizedHeight, then the
/// crop starts at (cropX, cropY) in resized pixels. Torch-free.
struct CropGeometry {
    int resizedWidth = 0, resizedHeight = 0;
    int cropX = 0, cropY = 0;
    int size = 0; ///< S
    /// The crop as a rectangle in original-image pixels (x, y, w, h), possibly fractional.
    std::array<double, 4> sourceRect(int imageWidth, int imageHeight) const;
};

/// Geometry of preprocess() for a width x height image (torchvision's rounding).
CropGeometry cropGeometry(int width, int height, const PreprocessOptions& options);
/// The same with crop fraction 1 (shorter side resized straight to `size`).
CropGeometry cropGeometry(int width, int height, int size);

/// rgb: CV_8UC3 RGB (as decodeRgb returns). Returns [3, S, S] float32 normalised with the
/// options' mean/std. An image already at the resize size is not resampled.
at::Tensor preprocess(const cv::Mat& rgb, const PreprocessOptions& options = {});

/// [B, 3, S, S] float32 from B decoded images.
at::Tensor preprocessBatch(const std::vector<cv::Mat>& images, const PreprocessOptions& options = {});

/// Training crops (augmentations, already S x S CV_8UC3 RGB) -> [B, 3, S, S] float32,
/// normalised with the options' mean/std exactly as preprocess() normalises.
at::Tensor normalizeSquares(const std::vector<cv::Mat>& squares, const PreprocessOptions& options);

/// decodeRgb with JPEG DCT downscaling down to 2 x the resize size (which the antialiased
/// resize then finishes): the decode every model path uses, so the Inspector, which also
/// shows this image, sees exactly the pixels `embed` and training do. CV_8UC3 RGB.
cv::Mat decodeForModel(const std::filesystem::path& file, const PreprocessOptions& options);

/// decodeForModel + preprocess, decoding only the rows and columns the crop reads (the
/// same pixels there). Throws core::Error naming the file when it cannot be decoded.
at::Tensor loadPreprocessed(const std::filesystem::path& file, const PreprocessOptions& options = {});

/// Inverse of the normalisation: [3, S, S] float32 -> CV_8UC3 RGB S x S (for showing inputs).
cv::Mat toDisplayImage(const at::Tensor& chw, const PreprocessOptions& options = {});

} // namespace vitrine::core::image
