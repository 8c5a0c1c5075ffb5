#include "core/image/jpeg_window.h"

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <jpeglib.h>
#include <stdexcept>
#include <string>
#include <vector>

namespace vitrine::core::image {
namespace {

struct ErrorManager {
    jpeg_error_mgr base;
    std::jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

void onError(j_common_ptr cinfo) {
    auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
    (*cinfo->err->format_message)(cinfo, err->message);
    std::longjmp(err->jump, 1);
}

void onMessage(j_common_ptr, int) {} // warnings (recoverable corrupt data) are ignored, as OpenCV does

} // namespace

std::optional<JpegWindow> decodeJpegWindow(std::string_view bytes, int scaleDenom, std::int64_t maxPixels,
                                           const std::function<cv::Rect(int, int)>& window) {
    jpeg_decompress_struct cinfo;
    ErrorManager err;
    cinfo.err = jpeg_std_error(&err.base);
    err.base.error_exit = onError;
    err.base.emit_message = onMessage;
    // Everything the setjmp frame outlives is declared before it (no destructors skipped).
    JpegWindow out;
    std::vector<JSAMPROW> rows;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        throw std::runtime_error(std::string("cannot decode JPEG: ") + err.message);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()),
                 static_cast<unsigned long>(bytes.size()));
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        jpeg_destroy_decompress(&cinfo);
        return std::nullopt;
    }
    if (static_cast<std::int64_t>(cinfo.image_width) * cinfo.image_height > maxPixels) {
        jpeg_destroy_decompress(&cinfo);
        throw std::runtime_error("image too large for the pixel limit");
    }
    cinfo.scale_num = 1;
    cinfo.scale_denom = static_cast<unsigned>(scaleDenom);
    cinfo.out_color_space = JCS_EXT_RGB;
    jpeg_start_decompress(&cinfo);
    out.width = static_cast<int>(cinfo.output_width);
    out.height = static_cast<int>(cinfo.output_height);
    const cv::Rect want = window(out.width, out.height) & cv::Rect(0, 0, out.width, out.height);
    if (want.empty()) {
        jpeg_destroy_decompress(&cinfo);
        throw std::runtime_error("cannot decode JPEG: empty window");
    }
    // Columns: libjpeg widens the crop to whole iMCUs; a few columns of margin keep the
    // window's own columns away from the crop's edge, where fancy upsampling has no
    // neighbour to read.
    constexpr int kMargin = 8;
    if (want.width < out.width) {
        JDIMENSION x = static_cast<JDIMENSION>(std::max(0, want.x - kMargin));
        JDIMENSION w = static_cast<JDIMENSION>(std::min(out.width, want.x + want.width + kMargin)) - x;
        jpeg_crop_scanline(&cinfo, &x, &w);
        out.x = static_cast<int>(x);
    }
    const int cols = static_cast<int>(cinfo.output_width);
    out.y = want.y;
    out.rgb.create(want.height, cols, CV_8UC3);
    if (want.y > 0)
        jpeg_skip_scanlines(&cinfo, static_cast<JDIMENSION>(want.y));
    rows.resize(static_cast<std::size_t>(want.height));
    for (int r = 0; r < want.height; ++r)
        rows[r] = out.rgb.ptr(r);
    int done = 0;
    while (done < want.height) {
        const auto n = jpeg_read_scanlines(&cinfo, rows.data() + done, static_cast<JDIMENSION>(want.height - done));
        if (n == 0) {
            jpeg_destroy_decompress(&cinfo);
            throw std::runtime_error("cannot decode JPEG: the data stops early");
        }
        done += static_cast<int>(n);
    }
    // The rows below the window are never decoded.
    jpeg_abort_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return out;
}

} // namespace vitrine::core::image
