// 16-bit linear weights (bfloat16 or IEEE float16) kept in native memory (outside the 4 GB
// wasm heap) as stored: [n, k], one output channel per row (HF's nn.Linear layout). The
// kernels widen them to float32 in registers (bf16: a 16-bit shift; f16: F16C vcvtph2ps) and
// accumulate in float32; no float32 copy of a weight exists. Optional for bf16 weights:
// AVX-512 BF16 dot products (vdpbf16ps) on activations rounded to bf16 (w16_bf16dot.cc).
#pragma once
#include <cstdint>

#include "thread_pool.h"

namespace polyglot {

enum class W16Kind : int { kBf16 = 0, kF16 = 1 };

struct W16Weight {
  long k = 0;             // input features
  long n = 0;             // output channels
  W16Kind kind = W16Kind::kBf16;
  uint16_t* w = nullptr;  // [n, k] bit patterns
};

// C[m, n] = A[m, k] · Wᵀ-stored weight (A rows contiguous, C dense); transposed: a is dY [m, n]
// and c is dX [m, k] = dY · W.
struct W16Args {
  const float* a;
  float* c;
  long m;
  const W16Weight* w;
};

void w16_matmul_avx512(const W16Args& g, ThreadPool& pool);
void w16_matmul_avx2(const W16Args& g, ThreadPool& pool);
void w16_matmul_t_avx512(const W16Args& g, ThreadPool& pool);
void w16_matmul_t_avx2(const W16Args& g, ThreadPool& pool);
// bf16 weights only: activations rounded to bf16 (nearest even), vdpbf16ps, float32 sums.
void w16_matmul_bf16dot(const W16Args& g, ThreadPool& pool);

}  // namespace polyglot
