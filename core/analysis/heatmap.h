#pragma once
// Turning patch-grid maps into pictures: upsampling to the image, OpenCV colour maps,
// blending over the photo, the patch-grid overlay, masks and labelled small multiples.
// Every image here is CV_8UC3 RGB (not OpenCV's usual BGR), the layout the decoder
// returns and QImage::Format_RGB888 expects. Torch-free.

#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "core/analysis/patch_tokens.h"

namespace vitrine::core::analysis {

/// OpenCV's colour maps, plus Diverging (blue - white - red, for signed differences).
enum class Colormap { Viridis, Inferno, Magma, Plasma, Jet, Turbo, Gray, Diverging };

/// "viridis", "inferno", "magma", "plasma", "jet", "turbo", "gray", "diverging". Throws
/// core::Error listing the names otherwise.
Colormap parseColormap(const std::string& name);
std::string toString(Colormap colormap);
std::vector<std::string> colormapNames();

enum class Interpolation {
    Nearest,  ///< one flat block per patch: what the model actually resolves
    Bilinear, ///< smooth, as most papers show attention
};

/// CV_32F, min-max scaled to [0, 1]; a constant map becomes all zeros.
cv::Mat normalizeMap(const cv::Mat& map);

/// `map` (g x g CV_32F) stretched over `size`. Pixel (x, y) belongs to patch row
/// y * g / H, column x * g / W (integer division), so non-square sizes work too and
/// nearest upsampling agrees exactly with patchAt()/patchRect().
cv::Mat upsampleMap(const cv::Mat& map, cv::Size size, Interpolation interpolation);

/// `map01`: CV_32F in [0, 1] (values outside are clamped) -> CV_8UC3 RGB of the same size.
cv::Mat colorizeMap(const cv::Mat& map01, Colormap colormap);

struct HeatmapStyle {
    Colormap colormap = Colormap::Viridis;
    double opacity = 0.6; ///< 0 = only the photo, 1 = only the heatmap
    Interpolation interpolation = Interpolation::Bilinear;
    /// Min-max scale the map first (attention maps are small probabilities). When false
    /// the map must already be in [0, 1].
    bool normalize = true;
};

/// The map coloured and blended over `rgb` (CV_8UC3 RGB); the result has rgb's size.
/// An empty `rgb` renders the coloured map alone at `fallbackSize`.
cv::Mat renderHeatmap(const cv::Mat& rgb, const cv::Mat& map, const HeatmapStyle& style = {},
                      cv::Size fallbackSize = {224, 224});

/// A signed map (e.g. checkpoint B's attention minus A's) over `rgb`: scaled by its largest
/// magnitude so 0 is white, negative blue, positive red; result has rgb's size. `maxAbs`
/// > 0 fixes the scale instead (to compare several maps on one scale).
cv::Mat renderDifference(const cv::Mat& rgb, const cv::Mat& signedMap, double opacity = 0.6,
                         Interpolation interpolation = Interpolation::Nearest, double maxAbs = 0,
                         cv::Size fallbackSize = {224, 224});

/// Patches outside `mask` (g x g CV_8U, 0 = dropped) darkened to `outsideBrightness`
/// times their colour, as in DINO's mask figures. Nearest upsampling: patches are kept or
/// not. Returns a new image of rgb's size.
cv::Mat renderMask(const cv::Mat& rgb, const cv::Mat& mask, double outsideBrightness = 0.25);

/// A g x g CV_32FC3 colour-per-patch grid in [0, 1] (the PCA view) blended over `rgb`.
/// With opacity 1 (or an empty rgb) only the colours show, at `fallbackSize`.
cv::Mat renderPatchColors(const cv::Mat& rgb, const cv::Mat& patchRgb, double opacity = 1.0,
                          Interpolation interpolation = Interpolation::Nearest, cv::Size fallbackSize = {224, 224});

/// Draws the g x g patch boundaries on `rgb` in place.
void drawPatchGrid(cv::Mat& rgb, int grid, const cv::Scalar& color = {255, 255, 255}, int thickness = 1);

/// Outlines patch `patch` (row-major) on `rgb` in place.
void highlightPatch(cv::Mat& rgb, int grid, int patch, const cv::Scalar& color = {255, 64, 64}, int thickness = 2);

/// Pixel rectangle of patch `patch` (row-major) in an image of `size`.
cv::Rect patchRect(cv::Size size, int grid, int patch);

/// The patch under pixel `pixel` of an image of `size` (hover hit-testing), or -1 outside.
int patchAt(cv::Size size, int grid, cv::Point pixel);

/// Tiles (CV_8UC3 RGB, each resized to the first tile's size) in a labelled grid:
/// `columns` per row (0 = about square), each label printed in a strip above its tile.
cv::Mat composeTiles(const std::vector<cv::Mat>& tiles, const std::vector<std::string>& labels, int columns = 0,
                     int gap = 4);

/// `rendered` (a view of the region `crop` of the original, any size) pasted back into a
/// copy of `original`, with everything outside `crop` (what the model never saw) dimmed
/// to `outsideBrightness`. This is how outputs keep the original photo's size.
cv::Mat placeInOriginal(const cv::Mat& original, const cv::Rect& crop, const cv::Mat& rendered,
                        double outsideBrightness = 0.35);

/// Two images side by side (b resized to a's height), with a line between the centres of
/// each matched patch pair, coloured by similarity with `colormap` over the pairs' range.
/// `gridA` / `gridB`: the images' patch grids. Returns CV_8UC3 RGB.
cv::Mat renderPatchMatches(const cv::Mat& a, int gridA, const cv::Mat& b, int gridB,
                           const std::vector<PatchMatch>& matches, Colormap colormap = Colormap::Viridis);

/// PNG bytes of an RGB (or grey) image.
std::string encodePng(const cv::Mat& rgb);

/// Encodes `rgb` as PNG and writes it atomically (core/io/atomic_file.h). Throws
/// core::Error naming the file.
void writePng(const std::filesystem::path& file, const cv::Mat& rgb);

} // namespace vitrine::core::analysis
