#include "core/model/int8_kernels.h"

#include <cmath>
#include <vector>

// Built with -O3 and finite maths (core/CMakeLists.txt) and cloned per x86-64 level: the loops
// below are written so that GCC vectorises them (min/max reductions, selects, float↔int).
// No clones under ThreadSanitizer: the clone resolver runs before its runtime is set up.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_THREAD__)
#define VITRINE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VITRINE_CLONES
#endif

namespace vitrine::core::model::kernels {

namespace {

// One row to uint8. Inline into each clone.
inline void quantiseRow(const float* x, std::int64_t k, int levels, std::uint8_t* q, float& scale, std::int32_t& zero) {
    float lo = 0.0f, hi = 0.0f;
    for (std::int64_t j = 0; j < k; ++j) {
        lo = x[j] < lo ? x[j] : lo;
        hi = x[j] > hi ? x[j] : hi;
    }
    const float top = static_cast<float>(levels);
    // A range too small for its inverse to be finite (or none) gets scale 1: every value is then
    // within half a step of 0 and the zero point stays 0..levels (a threshold, not isfinite,
    // which -ffast-math removes).
    const float range = hi - lo;
    const float s = range > top * 1e-30f ? range / top : 1.0f;
    const float inv = 1.0f / s;
    float z = std::floor(-lo * inv + 0.5f);
    z = z < 0.0f ? 0.0f : (z > top ? top : z);
    for (std::int64_t j = 0; j < k; ++j) {
        float v = x[j] * inv + z + 0.5f;
        v = v < 0.0f ? 0.0f : (v > top + 0.49f ? top + 0.49f : v);
        q[j] = static_cast<std::uint8_t>(static_cast<std::int32_t>(v));
    }
    scale = s;
    zero = static_cast<std::int32_t>(z);
}

inline void dequantiseRow(const std::int32_t* acc, std::int64_t n, float xs, std::int32_t xz, const float* ws,
                          const std::int32_t* colsum, const float* bias, float* y) {
    for (std::int64_t j = 0; j < n; ++j)
        y[j] = xs * ws[j] * static_cast<float>(acc[j] - xz * colsum[j]) + bias[j];
}

// erf by Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7, far below int8's rounding), written
// with expf so that it vectorises.
inline float erfApprox(float x) {
    const float a = x < 0.0f ? -x : x;
    const float t = 1.0f / (1.0f + 0.3275911f * a);
    const float poly = t * (0.254829592f +
                            t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
    const float r = 1.0f - poly * std::exp(-a * a);
    return x < 0.0f ? -r : r;
}

} // namespace

VITRINE_CLONES
void quantiseRows(const float* x, std::int64_t rows, std::int64_t k, int levels, std::uint8_t* q, float* scale,
                  std::int32_t* zero) {
    for (std::int64_t i = 0; i < rows; ++i)
        quantiseRow(x + i * k, k, levels, q + i * k, scale[i], zero[i]);
}

VITRINE_CLONES
void layerNormQuantiseRows(const float* x, std::int64_t rows, std::int64_t k, const float* gamma, const float* beta,
                           float eps, int levels, std::uint8_t* q, float* scale, std::int32_t* zero) {
    std::vector<float> row(static_cast<std::size_t>(k));
    for (std::int64_t i = 0; i < rows; ++i) {
        const float* xi = x + i * k;
        float sum = 0.0f;
        for (std::int64_t j = 0; j < k; ++j)
            sum += xi[j];
        const float mean = sum / static_cast<float>(k);
        float sq = 0.0f;
        for (std::int64_t j = 0; j < k; ++j)
            sq += (xi[j] - mean) * (xi[j] - mean);
        const float rstd = 1.0f / std::sqrt(sq / static_cast<float>(k) + eps);
        for (std::int64_t j = 0; j < k; ++j)
            row[j] = (xi[j] - mean) * rstd * gamma[j] + beta[j];
        quantiseRow(row.data(), k, levels, q + i * k, scale[i], zero[i]);
    }
}

VITRINE_CLONES
void dequantiseRows(const std::int32_t* acc, std::int64_t rows, std::int64_t n, const float* xs, const std::int32_t* xz,
                    const float* ws, const std::int32_t* colsum, const float* bias, const float* residual, float* y) {
    for (std::int64_t i = 0; i < rows; ++i) {
        float* yi = y + i * n;
        if (residual) {
            const float* ri = residual + i * n;
            const std::int32_t* ai = acc + i * n;
            for (std::int64_t j = 0; j < n; ++j)
                yi[j] = ri[j] + xs[i] * ws[j] * static_cast<float>(ai[j] - xz[i] * colsum[j]) + bias[j];
        } else {
            dequantiseRow(acc + i * n, n, xs[i], xz[i], ws, colsum, bias, yi);
        }
    }
}

VITRINE_CLONES
void dequantiseBlock(const std::int32_t* acc, std::int64_t rows, std::int64_t n, std::int64_t ldAcc, const float* xs,
                     const std::int32_t* xz, const float* ws, const std::int32_t* colsum, const float* bias, float* y,
                     std::int64_t ldY) {
    for (std::int64_t i = 0; i < rows; ++i)
        dequantiseRow(acc + i * ldAcc, n, xs[i], xz[i], ws, colsum, bias, y + i * ldY);
}

VITRINE_CLONES
void dequantiseActivateQuantiseRows(const std::int32_t* acc, std::int64_t rows, std::int64_t n, const float* xs,
                                    const std::int32_t* xz, const float* ws, const std::int32_t* colsum,
                                    const float* bias, Activation activation, int levels, std::uint8_t* q, float* scale,
                                    std::int32_t* zero) {
    std::vector<float> row(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < rows; ++i) {
        dequantiseRow(acc + i * n, n, xs[i], xz[i], ws, colsum, bias, row.data());
        if (activation == Activation::Gelu) {
            for (std::int64_t j = 0; j < n; ++j)
                row[j] = 0.5f * row[j] * (1.0f + erfApprox(row[j] * 0.70710678118654752f));
        } else {
            for (std::int64_t j = 0; j < n; ++j)
                row[j] = row[j] / (1.0f + std::exp(-1.702f * row[j]));
        }
        quantiseRow(row.data(), n, levels, q + i * n, scale[i], zero[i]);
    }
}

VITRINE_CLONES
void softmaxRows(float* x, std::int64_t rows, std::int64_t n) {
    for (std::int64_t i = 0; i < rows; ++i) {
        float* xi = x + i * n;
        float top = xi[0];
        for (std::int64_t j = 1; j < n; ++j)
            top = xi[j] > top ? xi[j] : top;
        float sum = 0.0f;
        for (std::int64_t j = 0; j < n; ++j) {
            xi[j] = std::exp(xi[j] - top);
            sum += xi[j];
        }
        const float inv = 1.0f / sum;
        for (std::int64_t j = 0; j < n; ++j)
            xi[j] *= inv;
    }
}

} // namespace vitrine::core::model::kernels
