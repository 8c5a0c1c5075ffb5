#pragma once
// Training-time augmentations on 8-bit RGB images (torchvision's RandomResizedCrop,
// RandomHorizontalFlip and ColorJitter), seeded so a run can be replayed. No torch here.

#include <cstdint>
#include <random>

#include <opencv2/core/mat.hpp>

namespace vitrine::core::image {

struct AugmentOptions {
    bool enabled = true;
    double minScale = 0.35; ///< RandomResizedCrop area fraction range
    double maxScale = 1.0;
    double minRatio = 3.0 / 4.0; ///< aspect ratio range (w/h)
    double maxRatio = 4.0 / 3.0;
    bool horizontalFlip = true;
    double brightness = 0.3; ///< factor drawn from [1-b, 1+b]; 0 = off
    double contrast = 0.3;
    double saturation = 0.3;
};

/// rgb: CV_8UC3. Returns a CV_8UC3 outSize × outSize image: a random crop resized
/// (area interpolation when shrinking), maybe flipped, colour-jittered. With
/// options.enabled false: the centred square crop resized, deterministic.
cv::Mat augment(const cv::Mat& rgb, int outSize, const AugmentOptions& options, std::mt19937_64& rng);

/// Centred square crop of the largest side possible, resized to outSize (CV_8UC3).
cv::Mat centerSquare(const cv::Mat& rgb, int outSize);

} // namespace vitrine::core::image
