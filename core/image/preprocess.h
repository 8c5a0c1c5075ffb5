#pragma once
// Model input preparation, equal to torchvision's
//   Resize(S, antialias=True) -> CenterCrop(S) -> ToTensor() -> Normalize(ImageNet mean, std)
// on tensors: shorter side to S with antialiased bilinear resampling (the same ATen kernel
// torchvision uses), centre S x S crop, channels scaled to [0, 1] and standardised.

#include <array>
#include <filesystem>
#include <vector>

#include <ATen/core/Tensor.h>
#include <opencv2/core/mat.hpp>

namespace vitrine::core::image {

struct PreprocessOptions {
    int size = 224;                                       ///< S
    std::array<float, 3> mean{0.485f, 0.456f, 0.406f};    ///< ImageNet
    std::array<float, 3> stddev{0.229f, 0.224f, 0.225f};
};

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
CropGeometry cropGeometry(int width, int height, int size);

/// rgb: CV_8UC3 RGB (as decodeRgb returns). Returns [3, S, S] float32, ImageNet-normalised.
/// An S x S image is not resampled.
at::Tensor preprocess(const cv::Mat& rgb, const PreprocessOptions& options = {});

/// [B, 3, S, S] float32 from B decoded images.
at::Tensor preprocessBatch(const std::vector<cv::Mat>& images, const PreprocessOptions& options = {});

/// decodeRgb (with JPEG DCT downscaling down to 2 S, which the antialiased resize then
/// finishes) + preprocess. Throws core::Error naming the file when it cannot be decoded.
at::Tensor loadPreprocessed(const std::filesystem::path& file, const PreprocessOptions& options = {});

/// Inverse of the normalisation: [3, S, S] float32 -> CV_8UC3 RGB S x S (for showing inputs).
cv::Mat toDisplayImage(const at::Tensor& chw, const PreprocessOptions& options = {});

} // namespace vitrine::core::image
