// Weight-only int8 linear layers: per-output-channel symmetric int8 weights with float
// scales, kept in native memory (outside the 4 GB wasm heap), multiplied by float32
// activations with the weights dequantised in registers (no float copy of the weights).
#pragma once
#include <cstdint>

#include "thread_pool.h"

namespace polyglot {

struct Q8Weight {
  long k = 0;                // input features
  long n = 0;                // output channels
  int8_t* q = nullptr;       // [n, k]: one output channel per row, contiguous in k
  float* scale = nullptr;    // [n]: w[kk, j] ~= q[j, kk] * scale[j]
  int32_t* colsum = nullptr; // [n]: sum_kk q[j, kk] (the VNNI kernel's u8 offset correction)
};

// C[m, n] = A[m, k] · dequant(W) (A rows contiguous, lda = k; C dense).
struct Q8Args {
  const float* a;
  float* c;
  long m;
  const Q8Weight* w;
  // Optional [n] bias added to every row of C after the product (a separate rounding, as
  // tfjs' add after the product: the same float32 numbers). Forward product only.
  const float* bias = nullptr;
};

void q8_matmul_avx512(const Q8Args& g, ThreadPool& pool);
void q8_matmul_avx2(const Q8Args& g, ThreadPool& pool);
// int8 activations (quantized per row) x int8 weights with AVX-512 VNNI (q8_vnni.cc).
void q8_matmul_vnni(const Q8Args& g, ThreadPool& pool);
// The transposed product: here a is dY [m, n] and c is dX [m, k] = dY · dequant(W)ᵀ.
void q8_matmul_t_avx512(const Q8Args& g, ThreadPool& pool);
void q8_matmul_t_avx2(const Q8Args& g, ThreadPool& pool);

}  // namespace polyglot
