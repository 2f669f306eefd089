// float32 batched matmul on raw memory (the wasm heap), with optional bias + activation.
#pragma once
#include "thread_pool.h"

namespace polyglot {

enum class Activation : int { kLinear = 0, kRelu = 1, kRelu6 = 2, kLeakyRelu = 3, kElu = 4, kSigmoid = 5 };

// C[b] = op(A[b]) · op(B[b]) (+ bias, activation) for b in [0, batches).
// All offsets count floats from `base`. A is [m,k] ([k,m] if ta), B is [k,n] ([n,k] if tb),
// both row-major; C[b] is the dense [m,n] block at c_offset + b*m*n.
struct GemmArgs {
  float* base;
  long m, n, k;
  bool ta, tb;
  long batches;
  const double* ab_offsets;  // 2 per batch: A's, then B's offset
  long c_offset;
  long bias_offset;  // -1: no bias
  long bias_len;     // 1 (scalar) or n
  Activation act;
  float alpha;       // leaky relu slope
};

void gemm_f32_avx512(const GemmArgs& g, ThreadPool& pool);
void gemm_f32_avx2(const GemmArgs& g, ThreadPool& pool);

}  // namespace polyglot
