#include "ui/qt_convert.h"

namespace vitrine::ui {

QImage matToQImage(const cv::Mat& m) {
    if (m.empty())
        return {};
    if (m.type() == CV_8UC1)
        return QImage(m.data, m.cols, m.rows, static_cast<qsizetype>(m.step), QImage::Format_Grayscale8).copy();
    CV_Assert(m.type() == CV_8UC3);
    return QImage(m.data, m.cols, m.rows, static_cast<qsizetype>(m.step), QImage::Format_RGB888).copy();
}

} // namespace vitrine::ui
