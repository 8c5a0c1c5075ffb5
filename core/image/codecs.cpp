#include "core/image/codecs.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <gif_lib.h>
#include <jxl/decode.h>
#include <libheif/heif.h>
#include <opencv2/core/version.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <webp/decode.h>
#include <webp/demux.h>

#include "core/image/bmp.h"

namespace vitrine::core::image {
namespace {

[[noreturn]] void refuse(const std::string& why) { throw std::runtime_error(why); }

void checkPixels(Format f, std::int64_t w, std::int64_t h, const LibraryDecodeOptions& o) {
    if (w <= 0 || h <= 0)
        refuse(std::string("corrupt ") + formatName(f) + " (zero width or height)");
    if (w > 1'000'000 || h > 1'000'000 || w * h > o.maxPixels)
        refuse("image too large (" + std::to_string(w) + "x" + std::to_string(h) + " pixels, limit " +
               std::to_string(o.maxPixels / 1'000'000) + " Mpx); it was not decoded");
}

/// Packs `channels`-channel 8-bit rows (RGB or RGBA or grey) into a new RGB matrix.
cv::Mat toRgb(const unsigned char* data, int w, int h, std::size_t stride, int channels) {
    cv::Mat rgb(h, w, CV_8UC3);
    for (int y = 0; y < h; ++y) {
        const unsigned char* in = data + std::size_t(y) * stride;
        unsigned char* out = rgb.ptr<unsigned char>(y);
        for (int x = 0; x < w; ++x, in += channels, out += 3) {
            out[0] = in[0];
            out[1] = channels >= 3 ? in[1] : in[0];
            out[2] = channels >= 3 ? in[2] : in[0];
        }
    }
    return rgb;
}

/// libtiff's RGBA reader premultiplies colour by unassociated alpha (ExtraSamples = 2).
/// Vitrine drops alpha and keeps the colour as stored, as other viewers' RGB conversion
/// does, so a copy of the file with the first directory's alpha marked associated (1) is
/// decoded instead. Classic TIFF with one extra sample only; anything else is left alone.
std::string withAlphaAssociated(std::string_view bytes) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    if (n < 8 || !((p[0] == 'I' && p[2] == 42) || (p[0] == 'M' && p[3] == 42)))
        return {};
    const bool little = p[0] == 'I';
    auto r16 = [&](std::size_t o) {
        return little ? std::uint32_t(p[o] | (p[o + 1] << 8)) : std::uint32_t((p[o] << 8) | p[o + 1]);
    };
    auto r32 = [&](std::size_t o) { return little ? r16(o) | (r16(o + 2) << 16) : (r16(o) << 16) | r16(o + 2); };
    const std::size_t ifd = r32(4);
    if (ifd + 2 > n)
        return {};
    const std::size_t count = r16(ifd);
    for (std::size_t k = 0; k < count && ifd + 2 + 12 * (k + 1) <= n; ++k) {
        const std::size_t e = ifd + 2 + 12 * k;
        if (r16(e) == 338 && r16(e + 2) == 3 && r32(e + 4) == 1 && r16(e + 8) == 2) {
            std::string copy(bytes);
            copy[e + 8 + (little ? 0 : 1)] = 1;
            return copy;
        }
    }
    return {};
}

cv::Mat decodeOpenCv(Format f, std::string_view bytes, const LibraryDecodeOptions& o) {
    std::string patched;
    if (f == Format::Tiff && !(patched = withAlphaAssociated(bytes)).empty())
        bytes = patched;
    cv::Mat bgr;
    try {
        cv::Mat buf(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
        bgr = cv::imdecode(buf, o.opencvFlags ? o.opencvFlags : cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
    } catch (const cv::Exception& e) {
        refuse(std::string("cannot decode ") + formatName(f) + ": " + e.msg);
    }
    if (bgr.empty())
        refuse(std::string("cannot decode ") + formatName(f) + " (corrupt data)");
    if (bgr.depth() != CV_8U)
        bgr.convertTo(bgr, CV_8U, bgr.depth() == CV_16U ? 1.0 / 257.0 : 1.0);
    cv::Mat rgb;
    if (bgr.channels() == 1)
        cv::cvtColor(bgr, rgb, cv::COLOR_GRAY2RGB);
    else if (bgr.channels() == 4)
        cv::cvtColor(bgr, rgb, cv::COLOR_BGRA2RGB);
    else
        cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    return rgb;
}

cv::Mat decodeWebp(std::string_view bytes, const LibraryDecodeOptions& o) {
    const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
    WebPBitstreamFeatures features;
    const VP8StatusCode status = WebPGetFeatures(data, bytes.size(), &features);
    if (status == VP8_STATUS_NOT_ENOUGH_DATA)
        refuse("truncated WebP (the file ends before the image data does)");
    if (status != VP8_STATUS_OK)
        refuse("corrupt WebP (bad bitstream header)");
    checkPixels(Format::WebP, features.width, features.height, o);
    if (features.has_animation) {
        WebPAnimDecoderOptions options;
        if (!WebPAnimDecoderOptionsInit(&options))
            refuse("cannot decode WebP (libwebp version mismatch)");
        options.color_mode = MODE_RGBA;
        options.use_threads = 0;
        const WebPData webp{data, bytes.size()};
        std::unique_ptr<WebPAnimDecoder, decltype(&WebPAnimDecoderDelete)> dec(WebPAnimDecoderNew(&webp, &options),
                                                                               &WebPAnimDecoderDelete);
        WebPAnimInfo info;
        if (!dec || !WebPAnimDecoderGetInfo(dec.get(), &info))
            refuse("corrupt animated WebP");
        checkPixels(Format::WebP, info.canvas_width, info.canvas_height, o);
        std::uint8_t* frame = nullptr;
        int timestamp = 0;
        if (!WebPAnimDecoderGetNext(dec.get(), &frame, &timestamp))
            refuse("corrupt animated WebP (its first frame does not decode)");
        return toRgb(frame, int(info.canvas_width), int(info.canvas_height), std::size_t(info.canvas_width) * 4, 4);
    }
    cv::Mat rgb(features.height, features.width, CV_8UC3);
    if (!WebPDecodeRGBInto(data, bytes.size(), rgb.data, rgb.total() * 3, static_cast<int>(rgb.step)))
        refuse("cannot decode WebP (corrupt or truncated data)");
    return rgb;
}

struct GifSource {
    const unsigned char* data;
    std::size_t size;
    std::size_t pos = 0;
};

int readGif(GifFileType* gif, GifByteType* out, int length) {
    auto* s = static_cast<GifSource*>(gif->UserData);
    const std::size_t n = std::min<std::size_t>(std::size_t(std::max(length, 0)), s->size - s->pos);
    std::memcpy(out, s->data + s->pos, n);
    s->pos += n;
    return static_cast<int>(n);
}

cv::Mat decodeGif(std::string_view bytes, const LibraryDecodeOptions& o) {
    GifSource source{reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()};
    int error = 0;
    GifFileType* opened = DGifOpen(&source, &readGif, &error);
    if (!opened)
        refuse(std::string("corrupt GIF (") + (GifErrorString(error) ? GifErrorString(error) : "bad header") + ")");
    std::unique_ptr<GifFileType, void (*)(GifFileType*)> gif(opened, [](GifFileType* g) {
        int e = 0;
        DGifCloseFile(g, &e);
    });
    auto gifError = [&](const char* what) {
        const char* s = GifErrorString(gif->Error);
        refuse(std::string(what) + " (" + (s ? s : "error") + ")");
    };
    checkPixels(Format::Gif, gif->SWidth, gif->SHeight, o);
    cv::Mat rgb(gif->SHeight, gif->SWidth, CV_8UC3, cv::Scalar::all(0));
    if (gif->SColorMap && gif->SBackGroundColor < gif->SColorMap->ColorCount) {
        const GifColorType c = gif->SColorMap->Colors[gif->SBackGroundColor];
        rgb.setTo(cv::Scalar(c.Red, c.Green, c.Blue));
    }
    for (;;) {
        GifRecordType record;
        if (DGifGetRecordType(gif.get(), &record) == GIF_ERROR)
            gifError("corrupt GIF");
        if (record == EXTENSION_RECORD_TYPE) {
            int code = 0;
            GifByteType* ext = nullptr;
            if (DGifGetExtension(gif.get(), &code, &ext) == GIF_ERROR)
                gifError("corrupt GIF");
            while (ext)
                if (DGifGetExtensionNext(gif.get(), &ext) == GIF_ERROR)
                    gifError("corrupt GIF");
        } else if (record == IMAGE_DESC_RECORD_TYPE) {
            if (DGifGetImageDesc(gif.get()) == GIF_ERROR)
                gifError("corrupt GIF");
            const GifImageDesc& d = gif->Image;
            checkPixels(Format::Gif, d.Width, d.Height, o);
            const ColorMapObject* map = d.ColorMap ? d.ColorMap : gif->SColorMap;
            if (!map)
                refuse("corrupt GIF (no colour table)");
            std::vector<GifPixelType> line(std::size_t(d.Width));
            // Interlaced images arrive in four passes.
            std::vector<int> order;
            if (d.Interlace) {
                static constexpr int kStart[4] = {0, 4, 2, 1}, kStep[4] = {8, 8, 4, 2};
                for (int pass = 0; pass < 4; ++pass)
                    for (int y = kStart[pass]; y < d.Height; y += kStep[pass])
                        order.push_back(y);
            } else {
                for (int y = 0; y < d.Height; ++y)
                    order.push_back(y);
            }
            for (int y : order) {
                if (DGifGetLine(gif.get(), line.data(), d.Width) == GIF_ERROR)
                    gifError("corrupt or truncated GIF");
                const int row = d.Top + y;
                if (row < 0 || row >= rgb.rows)
                    continue;
                unsigned char* out = rgb.ptr<unsigned char>(row);
                for (int x = 0; x < d.Width; ++x) {
                    const int col = d.Left + x;
                    if (col < 0 || col >= rgb.cols || line[std::size_t(x)] >= map->ColorCount)
                        continue;
                    const GifColorType c = map->Colors[line[std::size_t(x)]];
                    out[3 * col] = c.Red;
                    out[3 * col + 1] = c.Green;
                    out[3 * col + 2] = c.Blue;
                }
            }
            return rgb;
        } else if (record == TERMINATE_RECORD_TYPE) {
            refuse("corrupt GIF (it holds no image)");
        }
    }
}

cv::Mat decodeHeif(Format f, std::string_view bytes, const LibraryDecodeOptions& o) {
    const std::string name = formatName(f);
    auto check = [&](heif_error e, const char* what) {
        if (e.code != heif_error_Ok)
            refuse(std::string(what) + " " + name + " (" + (e.message ? e.message : "error") + ")");
    };
    std::unique_ptr<heif_context, decltype(&heif_context_free)> ctx(heif_context_alloc(), &heif_context_free);
    check(heif_context_read_from_memory_without_copy(ctx.get(), bytes.data(), bytes.size(), nullptr), "corrupt");
    heif_image_handle* rawHandle = nullptr;
    check(heif_context_get_primary_image_handle(ctx.get(), &rawHandle), "corrupt");
    std::unique_ptr<heif_image_handle, decltype(&heif_image_handle_release)> handle(rawHandle,
                                                                                    &heif_image_handle_release);
    checkPixels(f, heif_image_handle_get_width(handle.get()), heif_image_handle_get_height(handle.get()), o);
    heif_image* rawImage = nullptr;
    check(heif_decode_image(handle.get(), &rawImage, heif_colorspace_RGB, heif_chroma_interleaved_RGB, nullptr),
          "cannot decode");
    std::unique_ptr<heif_image, decltype(&heif_image_release)> image(rawImage, &heif_image_release);
    int stride = 0;
    const std::uint8_t* plane = heif_image_get_plane_readonly(image.get(), heif_channel_interleaved, &stride);
    const int w = heif_image_get_width(image.get(), heif_channel_interleaved);
    const int h = heif_image_get_height(image.get(), heif_channel_interleaved);
    if (!plane || w <= 0 || h <= 0 || stride < 3 * w)
        refuse("cannot decode " + name + " (no RGB image came out)");
    checkPixels(f, w, h, o);
    return toRgb(plane, w, h, std::size_t(stride), 3);
}

cv::Mat decodeJxl(std::string_view bytes, const LibraryDecodeOptions& o) {
    std::unique_ptr<JxlDecoder, decltype(&JxlDecoderDestroy)> dec(JxlDecoderCreate(nullptr), &JxlDecoderDestroy);
    if (!dec || JxlDecoderSubscribeEvents(dec.get(), JXL_DEC_BASIC_INFO | JXL_DEC_FULL_IMAGE) != JXL_DEC_SUCCESS)
        refuse("cannot decode JPEG XL (decoder setup failed)");
    JxlDecoderSetInput(dec.get(), reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    JxlDecoderCloseInput(dec.get());
    JxlPixelFormat format{3, JXL_TYPE_UINT8, JXL_NATIVE_ENDIAN, 0};
    JxlBasicInfo info{};
    cv::Mat out;
    for (;;) {
        const JxlDecoderStatus s = JxlDecoderProcessInput(dec.get());
        if (s == JXL_DEC_ERROR)
            refuse("corrupt JPEG XL (the decoder reported an error)");
        if (s == JXL_DEC_NEED_MORE_INPUT)
            refuse("truncated JPEG XL (the file ends before the image data does)");
        if (s == JXL_DEC_BASIC_INFO) {
            if (JxlDecoderGetBasicInfo(dec.get(), &info) != JXL_DEC_SUCCESS)
                refuse("corrupt JPEG XL (bad header)");
            checkPixels(Format::Jxl, info.xsize, info.ysize, o);
            if (info.num_color_channels == 1)
                format.num_channels = 1;
        } else if (s == JXL_DEC_NEED_IMAGE_OUT_BUFFER) {
            std::size_t size = 0;
            if (JxlDecoderImageOutBufferSize(dec.get(), &format, &size) != JXL_DEC_SUCCESS)
                refuse("cannot decode JPEG XL (no 8-bit output)");
            out.create(int(info.ysize), int(info.xsize), format.num_channels == 1 ? CV_8UC1 : CV_8UC3);
            if (size != out.total() * out.elemSize())
                refuse("cannot decode JPEG XL (unexpected buffer size)");
            if (JxlDecoderSetImageOutBuffer(dec.get(), &format, out.data, size) != JXL_DEC_SUCCESS)
                refuse("cannot decode JPEG XL (output buffer refused)");
        } else if (s == JXL_DEC_FULL_IMAGE || s == JXL_DEC_SUCCESS) {
            break; // the first frame is enough
        }
    }
    if (out.empty())
        refuse("corrupt JPEG XL (it holds no image)");
    if (out.channels() == 1)
        return toRgb(out.data, out.cols, out.rows, out.step, 1);
    return out;
}

} // namespace

cv::Mat decodeWithLibrary(Format format, std::string_view bytes, const LibraryDecodeOptions& options) {
    switch (format) {
    case Format::Jpeg:
    case Format::Png:
    case Format::Tiff: return decodeOpenCv(format, bytes, options);
    case Format::Bmp: {
        cv::Mat rgb = bmp::decode(bytes);
        checkPixels(format, rgb.cols, rgb.rows, options);
        return rgb;
    }
    case Format::WebP: return decodeWebp(bytes, options);
    case Format::Gif: return decodeGif(bytes, options);
    case Format::Heif:
    case Format::Avif: return decodeHeif(format, bytes, options);
    case Format::Jxl: return decodeJxl(bytes, options);
    case Format::Unknown: break;
    }
    refuse("not an image (unrecognised format)");
}

std::string codecVersions() {
    const auto dotted = [](unsigned major, unsigned minor, unsigned patch) {
        char text[40];
        std::snprintf(text, sizeof text, "%u.%u.%u", major, minor, patch);
        return std::string(text);
    };
    const auto webp = static_cast<unsigned>(WebPGetDecoderVersion());
    const std::uint32_t jxl = JxlDecoderVersion();
    // Appended piece by piece: one long chain of operator+ on temporaries trips GCC 12's
    // -Warray-bounds (a false positive inside basic_string's move).
    std::string text = "OpenCV " CV_VERSION " (JPEG, PNG, TIFF)";
    text += ", libwebp ";
    text += dotted(webp >> 16, (webp >> 8) & 0xFF, webp & 0xFF);
    text += ", giflib ";
    text += dotted(GIFLIB_MAJOR, GIFLIB_MINOR, GIFLIB_RELEASE);
    text += ", libheif ";
    text += heif_get_version();
    text += " (HEIF, AVIF), libjxl ";
    text += dotted(jxl / 1000000, jxl / 1000 % 1000, jxl % 1000);
    text += ", BMP: Vitrine's own reader";
    return text;
}

} // namespace vitrine::core::image
