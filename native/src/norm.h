// Fused row-wise kernels replacing chains of small tfjs ops (one kernel call instead of 5-9):
// LayerNorm over the last axis and its backward, GELU (exact erf and tanh forms) and its
// derivative. float32 in and out, AVX2+FMA (norm_avx2.cc), rows / elements split over the pool
// when large. Pointers point into the wasm heap.
#pragma once

#include "thread_pool.h"

namespace polyglot {

// y[r, :] = (x[r, :] - mean) / sqrt(var + eps) * gamma + beta, var biased (as torch).
struct LayerNormArgs {
  const float* x;
  const float* gamma;
  const float* beta;
  float* y;
  long rows;
  long d;
  float eps;
};

// dx [rows, d], dgamma [d], dbeta [d] from dy [rows, d] (mean and rstd recomputed from x).
struct LayerNormGradArgs {
  const float* x;
  const float* gamma;
  const float* dy;
  float* dx;
  float* dgamma;
  float* dbeta;
  long rows;
  long d;
  float eps;
};

enum class GeluKind : int { kErf = 0, kTanh = 1 };

// y = gelu(x) (n elements); with dy: dx = dy * gelu'(x). `c` is the tanh form's sqrt(2/pi).
struct GeluArgs {
  const float* x;
  const float* dy;  // gradient only
  float* y;         // forward: y; gradient: dx
  long n;
  GeluKind kind;
  float c;
};

void layer_norm_avx2(const LayerNormArgs& g, ThreadPool& pool);
void layer_norm_grad_avx2(const LayerNormGradArgs& g, ThreadPool& pool);
void gelu_avx2(const GeluArgs& g, ThreadPool& pool);
void gelu_grad_avx2(const GeluArgs& g, ThreadPool& pool);

}  // namespace polyglot
