// AVX2 + FMA + F16C 16-bit-weight kernels: bf16 widened by a 16-bit shift, f16 by vcvtph2ps.
#include <immintrin.h>
#include <cstdint>

#include "w16.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace polyglot {
namespace avx2_w16 {

template <int KIND>
static inline __m256 widen(const uint16_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  if (KIND == 0) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  return _mm256_cvtph_ps(h);
}

static inline float widen1(uint16_t h, int kind) {
  if (kind == 0) {
    const uint32_t bits = static_cast<uint32_t>(h) << 16;
    float f;
    __builtin_memcpy(&f, &bits, 4);
    return f;
  }
  return _cvtsh_ss(h);
}

static inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

template <int R, int NB, int KIND>
static void w16dot(long K, const float* A, const uint16_t* W, float* C, long ldc) {
  __m256 acc[R][NB];
  for (int i = 0; i < R; i++)
    for (int j = 0; j < NB; j++) acc[i][j] = _mm256_setzero_ps();
  long k = 0;
  for (; k + 8 <= K; k += 8) {
    __m256 w[NB];
    for (int j = 0; j < NB; j++) w[j] = widen<KIND>(W + j * K + k);
    for (int i = 0; i < R; i++) {
      const __m256 a = _mm256_loadu_ps(A + i * K + k);
      for (int j = 0; j < NB; j++) acc[i][j] = _mm256_fmadd_ps(a, w[j], acc[i][j]);
    }
  }
  for (int i = 0; i < R; i++)
    for (int j = 0; j < NB; j++) {
      float s = hsum(acc[i][j]);
      for (long kk = k; kk < K; kk++) s += A[i * K + kk] * widen1(W[j * K + kk], KIND);
      C[i * ldc + j] = s;
    }
}

// acc_q[0, len) += a[q] * W[0, len) for q < 4 (each weight vector widened once).
template <int KIND>
static void w16axpy4(long len, const float* a, const uint16_t* W, float* c0, float* c1, float* c2, float* c3) {
  const __m256 a0 = _mm256_set1_ps(a[0]), a1 = _mm256_set1_ps(a[1]), a2 = _mm256_set1_ps(a[2]), a3 = _mm256_set1_ps(a[3]);
  long kk = 0;
  for (; kk + 8 <= len; kk += 8) {
    const __m256 w = widen<KIND>(W + kk);
    _mm256_storeu_ps(c0 + kk, _mm256_fmadd_ps(a0, w, _mm256_loadu_ps(c0 + kk)));
    _mm256_storeu_ps(c1 + kk, _mm256_fmadd_ps(a1, w, _mm256_loadu_ps(c1 + kk)));
    _mm256_storeu_ps(c2 + kk, _mm256_fmadd_ps(a2, w, _mm256_loadu_ps(c2 + kk)));
    _mm256_storeu_ps(c3 + kk, _mm256_fmadd_ps(a3, w, _mm256_loadu_ps(c3 + kk)));
  }
  for (; kk < len; kk++) {
    const float w = widen1(W[kk], KIND);
    c0[kk] += a[0] * w;
    c1[kk] += a[1] * w;
    c2[kk] += a[2] * w;
    c3[kk] += a[3] * w;
  }
}

#include "w16_driver.inc"

}  // namespace avx2_w16

void w16_matmul_avx2(const W16Args& g, ThreadPool& pool) { avx2_w16::w16_drive(g, pool); }
void w16_matmul_t_avx2(const W16Args& g, ThreadPool& pool) { avx2_w16::w16t_drive(g, pool); }

}  // namespace polyglot

#pragma GCC pop_options
