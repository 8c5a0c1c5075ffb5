#pragma once
// Scaled dot-product self-attention for float32 inference on the CPU, straight from a fused
// qkv projection: softmax(Q Kᵀ / √d) V per (image, head), without materialising the
// probabilities for the caller.
//
// Why not ATen's matmul/bmm: with LibTorch 1.13 on OpenBLAS, a batched product of 197×64
// matrices runs one small multi-threaded GEMM per (image, head) after copying Q, K and V out
// of the qkv tensor, and the heads' outputs are copied back into [B, T, D]. Here every
// (image, head) is one task of a parallel loop over the whole batch, its two products are
// single-threaded oneDNN GEMMs reading Q, K and V in place (row stride 3D) and writing its
// columns of the [B, T, D] output directly.

#include <torch/types.h>

#include "core/model/int8_gemm.h"

namespace vitrine::core::model {

/// qkv: [B, T, 3·D] float32, contiguous, laid out as timm's fused projection ([q | k | v], each
/// D = heads × head_dim). Returns [B, T, D]. No autograd: for inference only.
torch::Tensor selfAttentionFromQkv(const torch::Tensor& qkv, int heads);

/// The same from the qkv projection's int32 products (the int8 path: [batch · T, 3 · D] rows in
/// qkv), each task dequantising the rows and head columns it reads into its own buffers instead
/// of the whole projection being written in float first. Returns [batch, T, D] float32.
torch::Tensor selfAttentionFromProducts(const Int8Products& qkv, std::int64_t batch, int heads);

/// Whether selfAttentionFromQkv can run (oneDNN's GEMM is linked and VITRINE_NO_ATTENTION_KERNEL
/// is not set; the latter exists to measure it).
bool attentionKernelEnabled();

} // namespace vitrine::core::model
