#pragma once
// Conversions between OpenCV and Qt image types (one copy, owned by the QImage).

#include <QImage>

#include <opencv2/core/mat.hpp>

namespace vitrine::ui {

/// CV_8UC3 RGB (or CV_8UC1) -> QImage (deep copy).
QImage matToQImage(const cv::Mat& rgb);

} // namespace vitrine::ui
