// AVX-512 16-bit-weight kernels: bf16 widened by a 16-bit shift, f16 by vcvtph2ps (AVX-512F).
#include <immintrin.h>
#include <cstdint>

#include "w16.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,fma,f16c")

namespace polyglot {
namespace avx512_w16 {

// 16 weights at p (KIND 0: bf16, 1: f16) as float32; `m` masks a partial load.
template <int KIND>
static inline __m512 widen(const uint16_t* p, __mmask16 m) {
  const __m256i h = _mm256_maskz_loadu_epi16(m, p);
  if (KIND == 0) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  return _mm512_cvtph_ps(h);
}

template <int KIND>
static inline __m512 widen(const uint16_t* p) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  if (KIND == 0) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  return _mm512_cvtph_ps(h);
}

// C[i, j] (i < R, j < NB) = sum_k A[i, k] * W[j, k]. Decode streams every weight once: the next
// group of NB channels is prefetched at the same position (NB interleaved rows are too many short
// streams for the hardware prefetcher), and one row keeps U = 2 accumulator sets so the FMA
// latency does not bound it.
template <int R, int NB, int KIND>
static void w16dot(long K, const float* A, const uint16_t* W, float* C, long ldc) {
  constexpr int U = R == 1 ? 2 : 1;
  __m512 acc[U][R][NB];
  for (int u = 0; u < U; u++)
    for (int i = 0; i < R; i++)
      for (int j = 0; j < NB; j++) acc[u][i][j] = _mm512_setzero_ps();
  long k = 0;
  for (; k + 16 * U <= K; k += 16 * U) {
    if ((k & 31) == 0)
      for (int j = 0; j < NB; j++) _mm_prefetch(reinterpret_cast<const char*>(W + (2 * NB + j) * K + k), _MM_HINT_T0);
#pragma GCC unroll 2
    for (int u = 0; u < U; u++) {
      __m512 w[NB];
      for (int j = 0; j < NB; j++) w[j] = widen<KIND>(W + j * K + k + 16 * u);
      for (int i = 0; i < R; i++) {
        const __m512 a = _mm512_loadu_ps(A + i * K + k + 16 * u);
        for (int j = 0; j < NB; j++) acc[u][i][j] = _mm512_fmadd_ps(a, w[j], acc[u][i][j]);
      }
    }
  }
  for (; k < K; k += 16) {
    const __mmask16 m = K - k >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (K - k)) - 1);
    __m512 w[NB];
    for (int j = 0; j < NB; j++) w[j] = widen<KIND>(W + j * K + k, m);
    for (int i = 0; i < R; i++) {
      const __m512 a = _mm512_maskz_loadu_ps(m, A + i * K + k);
      for (int j = 0; j < NB; j++) acc[0][i][j] = _mm512_fmadd_ps(a, w[j], acc[0][i][j]);
    }
  }
  for (int i = 0; i < R; i++)
    for (int j = 0; j < NB; j++) {
      __m512 s = acc[0][i][j];
      for (int u = 1; u < U; u++) s = _mm512_add_ps(s, acc[u][i][j]);
      C[i * ldc + j] = _mm512_reduce_add_ps(s);
    }
}

// acc_q[0, len) += a[q] * W[0, len) for q < 4 (each weight vector widened once).
template <int KIND>
static void w16axpy4(long len, const float* a, const uint16_t* W, float* c0, float* c1, float* c2, float* c3) {
  const __m512 a0 = _mm512_set1_ps(a[0]), a1 = _mm512_set1_ps(a[1]), a2 = _mm512_set1_ps(a[2]), a3 = _mm512_set1_ps(a[3]);
  long kk = 0;
  for (; kk + 16 <= len; kk += 16) {
    const __m512 w = widen<KIND>(W + kk);
    _mm512_storeu_ps(c0 + kk, _mm512_fmadd_ps(a0, w, _mm512_loadu_ps(c0 + kk)));
    _mm512_storeu_ps(c1 + kk, _mm512_fmadd_ps(a1, w, _mm512_loadu_ps(c1 + kk)));
    _mm512_storeu_ps(c2 + kk, _mm512_fmadd_ps(a2, w, _mm512_loadu_ps(c2 + kk)));
    _mm512_storeu_ps(c3 + kk, _mm512_fmadd_ps(a3, w, _mm512_loadu_ps(c3 + kk)));
  }
  if (kk < len) {
    const __mmask16 m = static_cast<__mmask16>((1u << (len - kk)) - 1);
    const __m512 w = widen<KIND>(W + kk, m);
    _mm512_mask_storeu_ps(c0 + kk, m, _mm512_fmadd_ps(a0, w, _mm512_maskz_loadu_ps(m, c0 + kk)));
    _mm512_mask_storeu_ps(c1 + kk, m, _mm512_fmadd_ps(a1, w, _mm512_maskz_loadu_ps(m, c1 + kk)));
    _mm512_mask_storeu_ps(c2 + kk, m, _mm512_fmadd_ps(a2, w, _mm512_maskz_loadu_ps(m, c2 + kk)));
    _mm512_mask_storeu_ps(c3 + kk, m, _mm512_fmadd_ps(a3, w, _mm512_maskz_loadu_ps(m, c3 + kk)));
  }
}

#include "w16_driver.inc"

}  // namespace avx512_w16

void w16_matmul_avx512(const W16Args& g, ThreadPool& pool) { avx512_w16::w16_drive(g, pool); }
void w16_matmul_t_avx512(const W16Args& g, ThreadPool& pool) { avx512_w16::w16t_drive(g, pool); }

}  // namespace polyglot

#pragma GCC pop_options
