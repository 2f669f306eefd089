// Weight-only int8 linear layers: per-output-channel symmetric int8 weights with float
// scales, kept in native memory (outside the 4 GB wasm heap), multiplied by float32
// activations with the weights dequantised in registers (no float copy of the weights).
#pragma once
#include <cstdint>

#include "thread_pool.h"

namespace polyglot {

// Layout of q: channels in groups of 4, a group's 4 rows interleaved in 64-byte blocks
// (row 0 bytes [0, 64), row 1 [0, 64), row 2, row 3, row 0 [64, 128), ...), k padded to a
// multiple of 64 and n to a multiple of 4 with zeros. A decode GEMV, which reads a group's rows
// side by side, then reads memory in one sequential run instead of 4 streams 1 KB apart: the
// hardware prefetcher keeps up (20% more GB/s from DRAM on this machine, docs/BACKENDS.md).
struct Q8Weight {
  long k = 0;                // input features
  long n = 0;                // output channels
  long kp = 0;               // k rounded up to 64
  long np = 0;               // n rounded up to 4
  int8_t* q = nullptr;       // [np / 4][kp / 64][4][64], see above
  float* scale = nullptr;    // [np]: w[kk, j] ~= q(j, kk) * scale[j] (0 for padding)
  int32_t* colsum = nullptr; // [np]: sum_kk q(j, kk) (the VNNI kernel's u8 offset correction)
};

// The group of 4 channels starting at channel j (j a multiple of 4).
inline const int8_t* q8_group(const Q8Weight& w, long j) { return w.q + (j >> 2) * 4 * w.kp; }
// Channel `row` (0..3) of a group at input feature k: the bytes [k, k + 64 - k % 64) are contiguous.
inline const int8_t* q8_group_at(const int8_t* group, long row, long k) { return group + (k >> 6) * 256 + row * 64 + (k & 63); }
// q(j, k) of channel j, input feature k.
inline const int8_t* q8_at(const Q8Weight& w, long j, long k) { return q8_group_at(q8_group(w, j & ~3L), j & 3, k); }

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
// `count` independent forward products as one pool job (each as q8_matmul_*: the same sums).
void q8_matmul_batch_avx512(const Q8Args* g, int count, ThreadPool& pool);
void q8_matmul_batch_avx2(const Q8Args* g, int count, ThreadPool& pool);
// int8 activations (quantized per row) x int8 weights with AVX-512 VNNI (q8_vnni.cc).
void q8_matmul_vnni(const Q8Args& g, ThreadPool& pool);
// The transposed product: here a is dY [m, n] and c is dX [m, k] = dY · dequant(W)ᵀ.
void q8_matmul_t_avx512(const Q8Args& g, ThreadPool& pool);
void q8_matmul_t_avx2(const Q8Args& g, ThreadPool& pool);

}  // namespace polyglot
