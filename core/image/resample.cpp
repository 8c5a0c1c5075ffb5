#include "core/image/resample.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace vitrine::core::image {
namespace {

// ATen's aa filters (UpSampleKernel.cpp, after PIL's Resample.c), evaluated in float as ATen
// does for float input.
float triangle(float x) {
    if (x < 0.0f)
        x = -x;
    return x < 1.0f ? static_cast<float>(1.0 - x) : 0.0f;
}

float cubicA05(float x) {
    constexpr double a = -0.5;
    if (x < 0.0f)
        x = -x;
    if (x < 1.0f)
        return static_cast<float>(((a + 2.0) * x - (a + 3.0)) * x * x + 1);
    if (x < 2.0f)
        return static_cast<float>((((x - 5) * x + 8) * x - 4) * a);
    return 0.0f;
}

// Four float lanes (GCC/Clang vector extension: SSE on x86-64, NEON on arm64). Lane-wise
// IEEE multiply, add, subtract and divide give the scalar results bit for bit: bytes become
// [0, 1] as ToTensor's to(float).div_(255) computes them, and so on.
typedef float V4 __attribute__((vector_size(16)));
typedef std::int32_t V4i __attribute__((vector_size(16)));

V4 load4(const float* p) {
    V4 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

void store4(float* p, V4 v) { std::memcpy(p, &v, sizeof v); }

V4 clamp01(V4 a) {
    const V4 zero = {0, 0, 0, 0}, one = {1, 1, 1, 1};
    a = a < zero ? zero : a;
    return a > one ? one : a;
}

// Lanes 4*phase .. 4*phase+3 of the interleaved RGB pattern of `v`.
V4 pattern(const std::array<float, 3>& v, int phase) {
    V4 r;
    for (int i = 0; i < 4; ++i)
        r[i] = v[(4 * phase + i) % 3];
    return r;
}

} // namespace

ResampleTaps resampleTaps(int inSize, int outSize, int first, int count, bool cubic) {
    // _compute_weights_aa with scalar_t = float; the mixed float/double expressions are ATen's.
    const float scale = static_cast<float>(inSize) / static_cast<float>(outSize);
    const float interp = cubic ? 4.0f : 2.0f;
    const float support = scale >= 1.0f ? (interp * 0.5f) * scale : interp * 0.5f;
    const float invscale = scale >= 1.0f ? static_cast<float>(1.0 / scale) : 1.0f;
    auto window = [&](int i, int& xmin, int& xsize, float& center) {
        center = static_cast<float>(scale * (i + 0.5));
        xmin = std::max(static_cast<int>(center - support + 0.5), 0);
        xsize = std::min(static_cast<int>(center + support + 0.5), inSize) - xmin;
    };
    ResampleTaps t;
    for (int n = 0; n < count; ++n) {
        int xmin = 0, xsize = 0;
        float center = 0.0f;
        window(first + n, xmin, xsize, center);
        t.taps = std::max(t.taps, xsize);
    }
    t.start.resize(count);
    t.weights.assign(static_cast<std::size_t>(count) * t.taps, 0.0f);
    std::vector<float> w(static_cast<std::size_t>(t.taps));
    for (int n = 0; n < count; ++n) {
        int xmin = 0, xsize = 0;
        float center = 0.0f;
        window(first + n, xmin, xsize, center);
        float total = 0.0f;
        for (int j = 0; j < xsize; ++j) {
            w[j] = (cubic ? cubicA05 : triangle)(static_cast<float>((j + xmin - center + 0.5) * invscale));
            total += w[j];
        }
        // The taps are a window of t.taps inputs inside the image; zero weights around the
        // filter's own xsize leave every sum bit-identical (x * 0 adds nothing).
        const int start = std::clamp(xmin, 0, inSize - t.taps);
        t.start[n] = start;
        float* dst = &t.weights[static_cast<std::size_t>(n) * t.taps];
        for (int j = 0; j < xsize; ++j)
            dst[xmin - start + j] = total != 0.0f ? w[j] / total : w[j];
    }
    return t;
}

namespace {
// [first, end) of the input samples the outputs [first, first + count) read.
std::pair<int, int> span(int inSize, int outSize, int first, int count, bool cubic) {
    const float scale = static_cast<float>(inSize) / static_cast<float>(outSize);
    const float interp = cubic ? 4.0f : 2.0f;
    const float support = scale >= 1.0f ? (interp * 0.5f) * scale : interp * 0.5f;
    auto lo = [&](int i) {
        const float center = static_cast<float>(scale * (i + 0.5));
        return std::max(static_cast<int>(center - support + 0.5), 0);
    };
    auto hi = [&](int i) {
        const float center = static_cast<float>(scale * (i + 0.5));
        return std::min(static_cast<int>(center + support + 0.5), inSize);
    };
    return {lo(first), hi(first + count - 1)};
}
} // namespace

InputWindow resampleWindow(int width, int height, const ResampleCrop& c) {
    // resampleTaps widens a tap window near the image's edges to `taps` inputs; a margin of
    // the filter's size covers that.
    const auto [x0, x1] = span(width, c.resizedWidth, c.cropX, c.size, c.cubic);
    const auto [y0, y1] = span(height, c.resizedHeight, c.cropY, c.size, c.cubic);
    const int mx = static_cast<int>(std::ceil(4.0 * std::max(1.0, double(width) / c.resizedWidth))) + 1;
    const int my = static_cast<int>(std::ceil(4.0 * std::max(1.0, double(height) / c.resizedHeight))) + 1;
    InputWindow w;
    w.x = std::max(0, x0 - mx);
    w.y = std::max(0, y0 - my);
    w.width = std::min(width, x1 + mx) - w.x;
    w.height = std::min(height, y1 + my) - w.y;
    return w;
}

void resampleCrop(const RgbView& image, const ResampleCrop& c, float* out, ResampleScratch& s) {
    const int width = image.width, height = image.height;
    const int S = c.size;
    const int hKey[4] = {width, c.resizedWidth, c.cropX, S * 2 + c.cubic};
    if (!std::equal(hKey, hKey + 4, s.hKey)) {
        s.horizontal = resampleTaps(width, c.resizedWidth, c.cropX, S, c.cubic);
        std::copy(hKey, hKey + 4, s.hKey);
    }
    const int vKey[4] = {height, c.resizedHeight, c.cropY, S * 2 + c.cubic};
    if (!std::equal(vKey, vKey + 4, s.vKey)) {
        s.vertical = resampleTaps(height, c.resizedHeight, c.cropY, S, c.cubic);
        std::copy(vKey, vKey + 4, s.vKey);
    }
    const ResampleTaps& h = s.horizontal;
    const ResampleTaps& v = s.vertical;
    // Input columns the crop reads.
    const int c0 = h.start.front(), c1 = h.start.back() + h.taps;
    if (c0 < image.x0 || v.start.front() < image.y0)
        throw std::invalid_argument("resampleCrop: the pixels given do not cover the crop's filter window");
    // Rows are kept interleaved (RGB RGB ...), so each output pixel is one 4-lane multiply-add
    // per tap; the fourth lane is scratch that the next pixel overwrites (hence the +4s).
    // Only the v.taps rows the current output row reads are kept (a ring), so everything but
    // the output stays in the L1/L2 cache.
    const std::size_t rowFloats = static_cast<std::size_t>(S) * 3 + 4;
    const int ring = v.taps;
    s.rows.resize(static_cast<std::size_t>(ring) * rowFloats);
    s.line.resize(static_cast<std::size_t>(c1 - c0) * 3 + 4);
    s.outRow.resize(rowFloats);

    // Pass 1, along input row r (ATen's horizontal pass), only the crop's columns.
    auto horizontal = [&](int r) {
        const std::uint8_t* src = image.data + static_cast<std::size_t>(r - image.y0) * image.stride +
                                  static_cast<std::size_t>(c0 - image.x0) * 3;
        float* line = s.line.data();
        const int n = (c1 - c0) * 3;
        int k = 0;
        for (; k + 4 <= n; k += 4) {
            std::uint8_t q[4];
            std::memcpy(q, src + k, 4);
            const V4i bytes = {q[0], q[1], q[2], q[3]};
            store4(line + k, __builtin_convertvector(bytes, V4) / 255.0f);
        }
        for (; k < n; ++k)
            line[k] = static_cast<float>(src[k]) / 255.0f;
        float* d = &s.rows[static_cast<std::size_t>(r % ring) * rowFloats];
        const int taps = h.taps;
        for (int x = 0; x < S; ++x) {
            const float* p = line + static_cast<std::size_t>(h.start[x] - c0) * 3;
            const float* w = &h.weights[static_cast<std::size_t>(x) * taps];
            V4 a = load4(p) * w[0];
            for (int k = 1; k < taps; ++k)
                a += load4(p + 3 * k) * w[k];
            store4(d + 3 * x, a);
        }
    };
    // Pass 2, down the columns; then clamp (bicubic), normalise and write CHW.
    const int n3 = S * 3;
    const V4 mean[3] = {pattern(c.mean, 0), pattern(c.mean, 1), pattern(c.mean, 2)};
    const V4 sd[3] = {pattern(c.stddev, 0), pattern(c.stddev, 1), pattern(c.stddev, 2)};
    float* o = s.outRow.data();
    s.tapRows.resize(static_cast<std::size_t>(v.taps));
    const float** src = s.tapRows.data();
    int next = 0; // the next input row pass 1 has not resampled yet
    for (int y = 0; y < S; ++y) {
        const int first = v.start[y];
        for (next = std::max(next, first); next < first + v.taps; ++next)
            horizontal(next);
        const float* w = &v.weights[static_cast<std::size_t>(y) * v.taps];
        for (int k = 0; k < v.taps; ++k)
            src[k] = &s.rows[static_cast<std::size_t>((first + k) % ring) * rowFloats];
        int x = 0;
        for (; x + 4 <= n3; x += 4) {
            V4 a = load4(src[0] + x) * w[0];
            for (int k = 1; k < v.taps; ++k)
                a += load4(src[k] + x) * w[k];
            if (c.cubic)
                a = clamp01(a);
            const int phase = (x / 4) % 3; // the channel pattern repeats every 12 floats
            store4(o + x, (a - mean[phase]) / sd[phase]);
        }
        for (; x < n3; ++x) {
            float a = src[0][x] * w[0];
            for (int k = 1; k < v.taps; ++k)
                a += src[k][x] * w[k];
            if (c.cubic)
                a = std::clamp(a, 0.0f, 1.0f);
            o[x] = (a - c.mean[x % 3]) / c.stddev[x % 3];
        }
        float* o0 = out + static_cast<std::size_t>(y) * S;
        float* o1 = o0 + static_cast<std::size_t>(S) * S;
        float* o2 = o1 + static_cast<std::size_t>(S) * S;
        for (int i = 0; i < S; ++i) {
            o0[i] = o[3 * i];
            o1[i] = o[3 * i + 1];
            o2[i] = o[3 * i + 2];
        }
    }
}

} // namespace vitrine::core::image
