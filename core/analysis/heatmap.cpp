#include "core/analysis/heatmap.h"

#include <algorithm>
#include <cmath>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/common/error.h"
#include "core/io/atomic_file.h"

namespace vitrine::core::analysis {
namespace {

struct NamedColormap {
    Colormap colormap;
    const char* name;
    int opencv;
};

constexpr NamedColormap kColormaps[] = {
    {Colormap::Viridis, "viridis", cv::COLORMAP_VIRIDIS},
    {Colormap::Inferno, "inferno", cv::COLORMAP_INFERNO},
    {Colormap::Magma, "magma", cv::COLORMAP_MAGMA},
    {Colormap::Plasma, "plasma", cv::COLORMAP_PLASMA},
    {Colormap::Jet, "jet", cv::COLORMAP_JET},
    {Colormap::Turbo, "turbo", cv::COLORMAP_TURBO},
    {Colormap::Gray, "gray", -1},
    {Colormap::Diverging, "diverging", -2},
};

// Blue (0) - near-white (0.5) - red (1), the ends of Moreland's cool-warm map, piecewise
// linear; stored BGR as cv::applyColorMap expects.
cv::Mat divergingLut() {
    const cv::Vec3d blue(59, 76, 192), mid(240, 240, 240), red(180, 4, 38); // RGB
    cv::Mat lut(256, 1, CV_8UC3);
    for (int i = 0; i < 256; ++i) {
        const double t = i / 255.0;
        const cv::Vec3d c = t < 0.5 ? blue + (mid - blue) * (t / 0.5) : mid + (red - mid) * ((t - 0.5) / 0.5);
        lut.at<cv::Vec3b>(i) = cv::Vec3b(cv::saturate_cast<uchar>(c[2]), cv::saturate_cast<uchar>(c[1]),
                                         cv::saturate_cast<uchar>(c[0]));
    }
    return lut;
}

void require(bool ok, const std::string& what) {
    if (!ok)
        throw Error(what);
}

void checkRgb(const cv::Mat& rgb, const char* what) {
    require(rgb.type() == CV_8UC3, std::string(what) + ": image must be CV_8UC3 RGB");
}

// First pixel of patch row/column `i`: pixel x belongs to patch floor(x * g / W), the
// rule hover hit-testing uses, so patch i starts at ceil(i * W / g).
int patchStart(int i, int pixels, int grid) { return (i * pixels + grid - 1) / grid; }

// Exact nearest upsampling under that rule (cv::resize's nearest mode rounds through a
// floating-point scale and can put a boundary pixel in the neighbouring patch).
cv::Mat nearestUpsample(const cv::Mat& src, cv::Size size) {
    cv::Mat mapX(size, CV_32F), mapY(size, CV_32F);
    for (int y = 0; y < size.height; ++y) {
        auto* mx = mapX.ptr<float>(y);
        auto* my = mapY.ptr<float>(y);
        const float row = static_cast<float>(static_cast<long long>(y) * src.rows / size.height);
        for (int x = 0; x < size.width; ++x) {
            mx[x] = static_cast<float>(static_cast<long long>(x) * src.cols / size.width);
            my[x] = row;
        }
    }
    cv::Mat out;
    cv::remap(src, out, mapX, mapY, cv::INTER_NEAREST, cv::BORDER_REPLICATE);
    return out;
}

cv::Mat resizeMap(const cv::Mat& src, cv::Size size, Interpolation interpolation) {
    if (interpolation == Interpolation::Nearest)
        return nearestUpsample(src, size);
    cv::Mat out;
    cv::resize(src, out, size, 0, 0, cv::INTER_LINEAR);
    return out;
}

cv::Mat blend(const cv::Mat& rgb, const cv::Mat& overlay, double opacity) {
    cv::Mat out;
    cv::addWeighted(rgb, 1.0 - opacity, overlay, opacity, 0.0, out);
    return out;
}

} // namespace

Colormap parseColormap(const std::string& name) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower == "grey")
        return Colormap::Gray;
    for (const auto& c : kColormaps)
        if (lower == c.name)
            return c.colormap;
    std::string known;
    for (const auto& c : kColormaps)
        known += std::string(known.empty() ? "" : ", ") + c.name;
    throw Error("unknown colour map '" + name + "' (use one of: " + known + ")");
}

std::string toString(Colormap colormap) {
    for (const auto& c : kColormaps)
        if (c.colormap == colormap)
            return c.name;
    return "viridis";
}

std::vector<std::string> colormapNames() {
    std::vector<std::string> names;
    for (const auto& c : kColormaps)
        names.emplace_back(c.name);
    return names;
}

cv::Mat normalizeMap(const cv::Mat& map) {
    require(map.type() == CV_32F && !map.empty(), "heatmap must be a non-empty CV_32F map");
    double lo = 0, hi = 0;
    cv::minMaxLoc(map, &lo, &hi);
    cv::Mat out;
    if (hi > lo && std::isfinite(lo) && std::isfinite(hi))
        map.convertTo(out, CV_32F, 1.0 / (hi - lo), -lo / (hi - lo));
    else
        out = cv::Mat::zeros(map.size(), CV_32F);
    return out;
}

cv::Mat upsampleMap(const cv::Mat& map, cv::Size size, Interpolation interpolation) {
    require(!map.empty() && size.width > 0 && size.height > 0, "cannot upsample an empty map or to an empty size");
    return resizeMap(map, size, interpolation);
}

cv::Mat colorizeMap(const cv::Mat& map01, Colormap colormap) {
    require(map01.type() == CV_32F, "colorizeMap needs a CV_32F map in [0, 1]");
    cv::Mat bytes;
    map01.convertTo(bytes, CV_8U, 255.0); // saturates outside [0, 1]
    cv::Mat rgb;
    int code = -1;
    for (const auto& c : kColormaps)
        if (c.colormap == colormap)
            code = c.opencv;
    if (code == -1) {
        cv::cvtColor(bytes, rgb, cv::COLOR_GRAY2RGB);
    } else if (code == -2) {
        static const cv::Mat lut = divergingLut();
        cv::Mat bgr;
        cv::applyColorMap(bytes, bgr, lut);
        cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    } else {
        cv::Mat bgr;
        cv::applyColorMap(bytes, bgr, code);
        cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    }
    return rgb;
}

cv::Mat renderHeatmap(const cv::Mat& rgb, const cv::Mat& map, const HeatmapStyle& style, cv::Size fallbackSize) {
    require(style.opacity >= 0 && style.opacity <= 1, "overlay opacity must be in [0, 1]");
    const cv::Size size = rgb.empty() ? fallbackSize : rgb.size();
    if (!rgb.empty())
        checkRgb(rgb, "heatmap");
    const cv::Mat scaled = style.normalize ? normalizeMap(map) : map;
    // Upsample the values before colouring so bilinear blends values, not colours.
    cv::Mat coloured = colorizeMap(upsampleMap(scaled, size, style.interpolation), style.colormap);
    if (rgb.empty())
        return coloured;
    return blend(rgb, coloured, style.opacity);
}

cv::Mat renderDifference(const cv::Mat& rgb, const cv::Mat& signedMap, double opacity, Interpolation interpolation,
                         double maxAbs, cv::Size fallbackSize) {
    require(signedMap.type() == CV_32F && !signedMap.empty(), "difference map must be a non-empty CV_32F map");
    double lo = 0, hi = 0;
    cv::minMaxLoc(signedMap, &lo, &hi);
    const double scale = maxAbs > 0 ? maxAbs : std::max(std::abs(lo), std::abs(hi));
    cv::Mat centred;
    if (scale > 0)
        signedMap.convertTo(centred, CV_32F, 0.5 / scale, 0.5);
    else
        centred = cv::Mat(signedMap.size(), CV_32F, cv::Scalar(0.5));
    HeatmapStyle style;
    style.colormap = Colormap::Diverging;
    style.opacity = opacity;
    style.interpolation = interpolation;
    style.normalize = false;
    return renderHeatmap(rgb, centred, style, fallbackSize);
}

cv::Mat renderMask(const cv::Mat& rgb, const cv::Mat& mask, double outsideBrightness) {
    checkRgb(rgb, "mask");
    require(mask.type() == CV_8U && !mask.empty(), "mask must be a non-empty CV_8U grid");
    const cv::Mat big = nearestUpsample(mask, rgb.size());
    cv::Mat out;
    rgb.convertTo(out, CV_8UC3, outsideBrightness);
    rgb.copyTo(out, big);
    return out;
}

cv::Mat renderPatchColors(const cv::Mat& rgb, const cv::Mat& patchRgb, double opacity, Interpolation interpolation,
                          cv::Size fallbackSize) {
    require(patchRgb.type() == CV_32FC3 && !patchRgb.empty(), "patch colours must be a CV_32FC3 grid in [0, 1]");
    require(opacity >= 0 && opacity <= 1, "overlay opacity must be in [0, 1]");
    const cv::Size size = rgb.empty() ? fallbackSize : rgb.size();
    const cv::Mat big = resizeMap(patchRgb, size, interpolation);
    cv::Mat colours;
    big.convertTo(colours, CV_8UC3, 255.0);
    if (rgb.empty() || opacity >= 1)
        return colours;
    checkRgb(rgb, "patch colours");
    return blend(rgb, colours, opacity);
}

cv::Rect patchRect(cv::Size size, int grid, int patch) {
    require(grid > 0 && patch >= 0 && patch < grid * grid, "patch " + std::to_string(patch) + " outside the " +
                                                               std::to_string(grid) + "x" + std::to_string(grid) +
                                                               " grid");
    const int r = patch / grid;
    const int c = patch % grid;
    const int x0 = patchStart(c, size.width, grid);
    const int x1 = patchStart(c + 1, size.width, grid);
    const int y0 = patchStart(r, size.height, grid);
    const int y1 = patchStart(r + 1, size.height, grid);
    return {x0, y0, x1 - x0, y1 - y0};
}

int patchAt(cv::Size size, int grid, cv::Point pixel) {
    if (grid <= 0 || pixel.x < 0 || pixel.y < 0 || pixel.x >= size.width || pixel.y >= size.height)
        return -1;
    const auto row = static_cast<int>(static_cast<long long>(pixel.y) * grid / size.height);
    const auto col = static_cast<int>(static_cast<long long>(pixel.x) * grid / size.width);
    return row * grid + col;
}

void drawPatchGrid(cv::Mat& rgb, int grid, const cv::Scalar& color, int thickness) {
    checkRgb(rgb, "patch grid");
    require(grid > 0, "patch grid needs a positive grid size");
    for (int i = 1; i < grid; ++i) {
        const int x = patchStart(i, rgb.cols, grid);
        const int y = patchStart(i, rgb.rows, grid);
        cv::line(rgb, {x, 0}, {x, rgb.rows - 1}, color, thickness, cv::LINE_8);
        cv::line(rgb, {0, y}, {rgb.cols - 1, y}, color, thickness, cv::LINE_8);
    }
}

void highlightPatch(cv::Mat& rgb, int grid, int patch, const cv::Scalar& color, int thickness) {
    checkRgb(rgb, "patch highlight");
    cv::Rect r = patchRect(rgb.size(), grid, patch);
    r.width = std::max(1, r.width - 1);
    r.height = std::max(1, r.height - 1);
    cv::rectangle(rgb, r, color, thickness, cv::LINE_8);
}

cv::Mat composeTiles(const std::vector<cv::Mat>& tiles, const std::vector<std::string>& labels, int columns, int gap) {
    require(!tiles.empty(), "nothing to compose: no tiles");
    const cv::Size tileSize = tiles.front().size();
    const int n = static_cast<int>(tiles.size());
    const int cols = columns > 0 ? std::min(columns, n) : static_cast<int>(std::ceil(std::sqrt(double(n))));
    const int rows = (n + cols - 1) / cols;
    const int fontFace = cv::FONT_HERSHEY_SIMPLEX;
    const double fontScale = std::clamp(tileSize.width / 320.0, 0.35, 1.2);
    int baseline = 0;
    const int textHeight = cv::getTextSize("Hg", fontFace, fontScale, 1, &baseline).height;
    const int strip = labels.empty() ? 0 : textHeight + baseline + 8;
    const int cellW = tileSize.width;
    const int cellH = tileSize.height + strip;
    cv::Mat out(rows * cellH + (rows + 1) * gap, cols * cellW + (cols + 1) * gap, CV_8UC3, cv::Scalar(32, 32, 32));
    for (int i = 0; i < n; ++i) {
        const cv::Mat& tile = tiles[static_cast<std::size_t>(i)];
        checkRgb(tile, "tile");
        const int x = gap + (i % cols) * (cellW + gap);
        const int y = gap + (i / cols) * (cellH + gap);
        cv::Mat fitted = tile;
        if (tile.size() != tileSize)
            cv::resize(tile, fitted, tileSize, 0, 0, cv::INTER_AREA);
        fitted.copyTo(out(cv::Rect(x, y + strip, cellW, tileSize.height)));
        if (static_cast<std::size_t>(i) < labels.size())
            cv::putText(out, labels[static_cast<std::size_t>(i)], {x + 4, y + textHeight + 4}, fontFace, fontScale,
                        cv::Scalar(235, 235, 235), 1, cv::LINE_AA);
    }
    return out;
}

cv::Mat placeInOriginal(const cv::Mat& original, const cv::Rect& crop, const cv::Mat& rendered,
                        double outsideBrightness) {
    checkRgb(original, "original image");
    checkRgb(rendered, "rendered view");
    require((crop & cv::Rect(0, 0, original.cols, original.rows)) == crop && !crop.empty(),
            "crop rectangle lies outside the original image");
    cv::Mat out;
    original.convertTo(out, CV_8UC3, outsideBrightness);
    cv::Mat region = out(crop);
    if (rendered.size() == crop.size())
        rendered.copyTo(region);
    else
        cv::resize(rendered, region, crop.size(), 0, 0, cv::INTER_LINEAR);
    return out;
}

cv::Mat renderPatchMatches(const cv::Mat& a, int gridA, const cv::Mat& b, int gridB,
                           const std::vector<PatchMatch>& matches, Colormap colormap) {
    checkRgb(a, "patch matches");
    checkRgb(b, "patch matches");
    cv::Mat right = b;
    if (b.rows != a.rows)
        cv::resize(b, right, {std::max(1, b.cols * a.rows / b.rows), a.rows}, 0, 0, cv::INTER_AREA);
    cv::Mat out;
    cv::hconcat(a, right, out);
    if (matches.empty())
        return out;
    float lo = matches.front().similarity, hi = lo;
    for (const auto& m : matches) {
        lo = std::min(lo, m.similarity);
        hi = std::max(hi, m.similarity);
    }
    cv::Mat values(1, static_cast<int>(matches.size()), CV_32F);
    for (std::size_t i = 0; i < matches.size(); ++i)
        values.at<float>(static_cast<int>(i)) = hi > lo ? (matches[i].similarity - lo) / (hi - lo) : 1.f;
    const cv::Mat colours = colorizeMap(values, colormap);
    const int thickness = std::max(1, a.rows / 200);
    // Weakest first, so the strongest lines end up on top.
    for (int i = static_cast<int>(matches.size()) - 1; i >= 0; --i) {
        const auto& m = matches[static_cast<std::size_t>(i)];
        const cv::Rect ra = patchRect(a.size(), gridA, m.patchA);
        cv::Rect rb = patchRect(right.size(), gridB, m.patchB);
        rb.x += a.cols;
        const cv::Vec3b& c = colours.at<cv::Vec3b>(i);
        const cv::Scalar colour(c[0], c[1], c[2]);
        const cv::Point pa = (ra.tl() + ra.br()) / 2;
        const cv::Point pb = (rb.tl() + rb.br()) / 2;
        cv::line(out, pa, pb, colour, thickness, cv::LINE_AA);
        cv::circle(out, pa, 2 * thickness, colour, cv::FILLED, cv::LINE_AA);
        cv::circle(out, pb, 2 * thickness, colour, cv::FILLED, cv::LINE_AA);
    }
    return out;
}

std::string encodePng(const cv::Mat& rgb) {
    require(!rgb.empty() && (rgb.type() == CV_8UC3 || rgb.type() == CV_8UC1), "PNG needs an 8-bit RGB or grey image");
    cv::Mat bgr;
    if (rgb.channels() == 3)
        cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    else
        bgr = rgb;
    std::vector<unsigned char> bytes;
    if (!cv::imencode(".png", bgr, bytes))
        throw Error("PNG encoding failed");
    return {bytes.begin(), bytes.end()};
}

void writePng(const std::filesystem::path& file, const cv::Mat& rgb) { io::writeFileAtomically(file, encodePng(rgb)); }

} // namespace vitrine::core::analysis
