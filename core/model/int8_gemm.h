#pragma once
// int8 inference of a transformer's Linear layers on the CPU: activations quantised per row
// (per token: asymmetric uint8, one scale and zero point for each row), weights per output
// channel (symmetric int8), one oneDNN integer GEMM (VNNI's vpdpbusd where the CPU has it), and
// the dequantisation, bias, LayerScale and residual add in one pass over its int32 output.
//
// Why per token: a ViT has a few "massive activation" tokens whose largest value is many times
// every other token's; one scale per tensor leaves the other rows a handful of levels (least
// cosine to float32 0.77-0.87 on real photos). A scale per row gives each token all 256 levels.
// Why not LibTorch's quantized::linear_dynamic: it quantises per tensor, in separate passes
// (min/max, quantise, then a float output), and was slower than bf16 autocast on an AVX-512
// bf16 CPU; the GEMM itself (oneDNN u8s8s32) runs 1.5-1.8x bf16's there.

#include <memory>
#include <mutex>
#include <utility>

#include <torch/types.h>

namespace vitrine::core::model {

/// Rows quantised to uint8: x[i, k] ≈ scale[i] · (values[i, k] − zero[i]).
struct QuantisedRows {
    torch::Tensor values; ///< uint8 [M, K]
    torch::Tensor scales; ///< float32 [M]
    torch::Tensor zeros;  ///< int32 [M]
};

/// The largest activation level: 255 where the integer dot product accumulates in 32 bits
/// (AVX512_VNNI or AMX), 127 otherwise: without VNNI the products go through
/// saturating 16-bit sums (vpmaddubsw) that 8-bit activations would overflow.
int int8ActivationLevels();

/// x: float32 [M, K] (any leading dimensions, last one contiguous after .contiguous()).
QuantisedRows quantiseRows(const torch::Tensor& x, int levels);

/// LayerNorm over the last dimension (gamma, beta: float32 [K]) and quantiseRows, in one pass.
QuantisedRows layerNormQuantise(const torch::Tensor& x, const torch::Tensor& gamma, const torch::Tensor& beta,
                                double eps, int levels);

/// An integer GEMM's int32 products and what dequantises them: value[i, j] = xs[i] · ws[j] ·
/// (acc[i, j] − xz[i] · colsum[j]) + bias[j] (kernels::dequantiseBlock). `acc` is the calling
/// thread's buffer: valid until that thread's next integer GEMM.
struct Int8Products {
    const std::int32_t* acc = nullptr;
    std::int64_t rows = 0, cols = 0;
    const float* xs = nullptr;
    const std::int32_t* xz = nullptr;
    const float* ws = nullptr;
    const std::int32_t* colsum = nullptr;
    const float* bias = nullptr;
    std::shared_ptr<const void> keep; ///< holds the packed weights and the rows' scales alive
};

/// A Linear layer's weight and bias as the integer GEMM wants them, made once and remade when
/// the layer's weights change (an optimizer step, a live-weights update).
class Int8Linear {
public:
    /// y = (x Wᵀ + bias) · gain (+ residual): float32 [M, N]. `gain` (LayerScale's, [N]) and
    /// `residual` ([M, N] float32) may be undefined. Thread-safe.
    torch::Tensor operator()(const QuantisedRows& x, const torch::Tensor& weight, const torch::Tensor& bias,
                             const torch::Tensor& gain = {}, const torch::Tensor& residual = {});

    /// operator() with a residual, and the sum's LayerNorm (gamma, beta) quantised for the next
    /// layer, in one pass over the rows: the attention branch's end and the MLP's start.
    std::pair<torch::Tensor, QuantisedRows> normed(const QuantisedRows& x, const torch::Tensor& weight,
                                                   const torch::Tensor& bias, const torch::Tensor& gain,
                                                   const torch::Tensor& residual, const torch::Tensor& gamma,
                                                   const torch::Tensor& beta, double eps, int levels);

    /// x Wᵀ + bias left as int32 products, for a consumer that dequantises the parts it reads
    /// (the attention kernel reads Q, K and V per head: selfAttentionFromProducts).
    Int8Products products(const QuantisedRows& x, const torch::Tensor& weight, const torch::Tensor& bias);

    /// The MLP's hidden layer: act(x Wᵀ + bias) quantised per row for the next layer, never
    /// written in float. act: exact (erf) GELU, or QuickGELU x·σ(1.702x).
    QuantisedRows activated(const QuantisedRows& x, const torch::Tensor& weight, const torch::Tensor& bias,
                            bool quickGelu, int levels);

private:
    struct Packed;
    struct Norm {
        torch::Tensor gamma, beta;
        float eps;
        int levels;
    };
    std::pair<torch::Tensor, QuantisedRows> run(const QuantisedRows& x, const torch::Tensor& weight,
                                                const torch::Tensor& bias, const torch::Tensor& gain,
                                                const torch::Tensor& residual, const Norm* norm);
    std::shared_ptr<const Packed> packed(const torch::Tensor& weight, const torch::Tensor& bias,
                                         const torch::Tensor& gain);
    std::mutex m_mutex;
    std::shared_ptr<const Packed> m_packed;
};

} // namespace vitrine::core::model
