#include "core/image/augment.h"

#include <algorithm>
#include <cmath>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace vitrine::core::image {

namespace {

cv::Mat resizeTo(const cv::Mat& src, int size) {
    cv::Mat out;
    const int interp = (src.cols > size || src.rows > size) ? cv::INTER_AREA : cv::INTER_LINEAR;
    cv::resize(src, out, cv::Size(size, size), 0, 0, interp);
    return out;
}

} // namespace

cv::Mat centerSquare(const cv::Mat& rgb, int outSize) {
    CV_Assert(rgb.type() == CV_8UC3 && outSize > 0);
    const int side = std::min(rgb.cols, rgb.rows);
    cv::Rect roi((rgb.cols - side) / 2, (rgb.rows - side) / 2, side, side);
    return resizeTo(rgb(roi), outSize);
}

cv::Mat augment(const cv::Mat& rgb, int outSize, const AugmentOptions& o, std::mt19937_64& rng) {
    CV_Assert(rgb.type() == CV_8UC3 && outSize > 0);
    if (!o.enabled)
        return centerSquare(rgb, outSize);
    std::uniform_real_distribution<double> u01(0.0, 1.0);
    auto uniform = [&](double a, double b) { return a + (b - a) * u01(rng); };

    // RandomResizedCrop: up to 10 tries for a crop inside the image, else the centre crop.
    const double area = double(rgb.cols) * rgb.rows;
    cv::Rect roi;
    bool found = false;
    for (int attempt = 0; attempt < 10 && !found; ++attempt) {
        const double target = area * uniform(o.minScale, o.maxScale);
        const double ratio = std::exp(uniform(std::log(o.minRatio), std::log(o.maxRatio)));
        const int w = int(std::lround(std::sqrt(target * ratio)));
        const int h = int(std::lround(std::sqrt(target / ratio)));
        if (w > 0 && h > 0 && w <= rgb.cols && h <= rgb.rows) {
            const int x = int(uniform(0, double(rgb.cols - w + 1)));
            const int y = int(uniform(0, double(rgb.rows - h + 1)));
            roi = cv::Rect(std::min(x, rgb.cols - w), std::min(y, rgb.rows - h), w, h);
            found = true;
        }
    }
    cv::Mat out = found ? resizeTo(rgb(roi), outSize) : centerSquare(rgb, outSize);
    if (o.horizontalFlip && u01(rng) < 0.5)
        cv::flip(out, out, 1);

    if (o.brightness > 0 || o.contrast > 0 || o.saturation > 0) {
        const double b = o.brightness > 0 ? uniform(1 - o.brightness, 1 + o.brightness) : 1.0;
        const double c = o.contrast > 0 ? uniform(1 - o.contrast, 1 + o.contrast) : 1.0;
        const double s = o.saturation > 0 ? uniform(1 - o.saturation, 1 + o.saturation) : 1.0;
        cv::Mat f;
        out.convertTo(f, CV_32FC3, b); // brightness: scale
        cv::Mat grey;
        cv::cvtColor(f, grey, cv::COLOR_RGB2GRAY);
        const double meanGrey = cv::mean(grey)[0];
        f = f * c + cv::Scalar::all((1.0 - c) * meanGrey); // contrast: blend with the mean grey level
        cv::cvtColor(f, grey, cv::COLOR_RGB2GRAY);
        cv::Mat grey3;
        cv::cvtColor(grey, grey3, cv::COLOR_GRAY2RGB);
        f = f * s + grey3 * (1.0 - s); // saturation: blend with the per-pixel grey
        f.convertTo(out, CV_8UC3);     // saturates to [0, 255]
    }
    return out;
}

} // namespace vitrine::core::image
