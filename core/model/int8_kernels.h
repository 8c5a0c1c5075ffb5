#pragma once
// The row kernels behind core/model/int8_gemm.h and the attention kernel's softmax
// (core/model/attention_cpu.h), on raw pointers and without torch, so that
// their translation unit can be built for vectorisation (-O3, finite maths, one clone per
// x86-64 level) without touching any header-defined function of LibTorch's. Each call handles
// rows [0, rows) of its arguments; the caller shares rows out between threads.

#include <cstdint>

namespace vitrine::core::model::kernels {

/// Per row i: lo = min(0, min x), hi = max(0, max x), scale[i] = (hi − lo) / levels (1 for an
/// all-zero row), zero[i] = round(−lo / scale), q = clamp(round(x / scale) + zero, 0, levels).
void quantiseRows(const float* x, std::int64_t rows, std::int64_t k, int levels, std::uint8_t* q, float* scale,
                  std::int32_t* zero);

/// LayerNorm of each row (biased variance, as torch's), then quantiseRows.
void layerNormQuantiseRows(const float* x, std::int64_t rows, std::int64_t k, const float* gamma, const float* beta,
                           float eps, int levels, std::uint8_t* q, float* scale, std::int32_t* zero);

/// y[i, j] = xs[i] · ws[j] · (acc[i, j] − xz[i] · colsum[j]) + bias[j] (+ residual[i, j]).
/// `residual` may be null; `y` may alias `residual`.
void dequantiseRows(const std::int32_t* acc, std::int64_t rows, std::int64_t n, const float* xs, const std::int32_t* xz,
                    const float* ws, const std::int32_t* colsum, const float* bias, const float* residual, float* y);

/// dequantiseRows (no residual) for a block of `n` columns: acc's rows `ldAcc` apart, y's `ldY`
/// apart; ws, colsum and bias point at the block's first column.
void dequantiseBlock(const std::int32_t* acc, std::int64_t rows, std::int64_t n, std::int64_t ldAcc, const float* xs,
                     const std::int32_t* xz, const float* ws, const std::int32_t* colsum, const float* bias, float* y,
                     std::int64_t ldY);

enum class Activation { Gelu, QuickGelu };

/// dequantiseRows (no residual), the activation (exact erf GELU, or QuickGELU x·σ(1.702x)),
/// then quantiseRows: the MLP's hidden layer without writing it in float.
void dequantiseActivateQuantiseRows(const std::int32_t* acc, std::int64_t rows, std::int64_t n, const float* xs,
                                    const std::int32_t* xz, const float* ws, const std::int32_t* colsum,
                                    const float* bias, Activation activation, int levels, std::uint8_t* q, float* scale,
                                    std::int32_t* zero);

/// softmax over each row of x [rows, n], in place (the attention kernel's probabilities).
void softmaxRows(float* x, std::int64_t rows, std::int64_t n);

} // namespace vitrine::core::model::kernels
