// AVX2 + FMA float32 kernels: 6x16 register tiles (12 ymm accumulators), masked edges.
#include <immintrin.h>
#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "gemm.h"
#include "q8.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma")

namespace polyglot {
namespace avx2 {

constexpr long MR = 6;
constexpr long NR = 16;
#define MR_MAX 6

// Lane mask for the first `count` (clamped to 0..8) floats.
static inline __m256i lanes(int count) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), idx);
}

template <int R>
static void ukr(long kc, const float* A, long ars, long acs, const float* B, long ldb, float* C, long ldc, int nr, bool acc) {
  __m256 c0[R], c1[R];
  for (int i = 0; i < R; i++) {
    c0[i] = _mm256_setzero_ps();
    c1[i] = _mm256_setzero_ps();
  }
  const __m256i m0 = lanes(nr), m1 = lanes(nr - 8);
  if (nr == 16) {
    for (long k = 0; k < kc; k++) {
      const float* b = B + k * ldb;
      const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
      const float* a = A + k * acs;
#pragma GCC unroll 6
      for (int i = 0; i < R; i++) {
        const __m256 av = _mm256_broadcast_ss(a + i * ars);
        c0[i] = _mm256_fmadd_ps(av, b0, c0[i]);
        c1[i] = _mm256_fmadd_ps(av, b1, c1[i]);
      }
    }
  } else {
    for (long k = 0; k < kc; k++) {
      const float* b = B + k * ldb;
      const __m256 b0 = _mm256_maskload_ps(b, m0), b1 = _mm256_maskload_ps(b + 8, m1);
      const float* a = A + k * acs;
#pragma GCC unroll 6
      for (int i = 0; i < R; i++) {
        const __m256 av = _mm256_broadcast_ss(a + i * ars);
        c0[i] = _mm256_fmadd_ps(av, b0, c0[i]);
        c1[i] = _mm256_fmadd_ps(av, b1, c1[i]);
      }
    }
  }
  for (int i = 0; i < R; i++) {
    float* c = C + i * ldc;
    if (acc) {
      c0[i] = _mm256_add_ps(c0[i], _mm256_maskload_ps(c, m0));
      c1[i] = _mm256_add_ps(c1[i], _mm256_maskload_ps(c + 8, m1));
    }
    _mm256_maskstore_ps(c, m0, c0[i]);
    _mm256_maskstore_ps(c + 8, m1, c1[i]);
  }
}

static inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <int R, int NB>
static void dotk(long K, const float* A, long lda, const float* B, long ldb, float* C, long ldc, long ldj) {
  __m256 acc[R][NB];
  for (int i = 0; i < R; i++)
    for (int j = 0; j < NB; j++) acc[i][j] = _mm256_setzero_ps();
  long k = 0;
  for (; k + 8 <= K; k += 8) {
    __m256 b[NB];
    for (int j = 0; j < NB; j++) b[j] = _mm256_loadu_ps(B + j * ldb + k);
    for (int i = 0; i < R; i++) {
      const __m256 a = _mm256_loadu_ps(A + i * lda + k);
      for (int j = 0; j < NB; j++) acc[i][j] = _mm256_fmadd_ps(a, b[j], acc[i][j]);
    }
  }
  if (k < K) {
    const __m256i m = lanes(static_cast<int>(K - k));
    __m256 b[NB];
    for (int j = 0; j < NB; j++) b[j] = _mm256_maskload_ps(B + j * ldb + k, m);
    for (int i = 0; i < R; i++) {
      const __m256 a = _mm256_maskload_ps(A + i * lda + k, m);
      for (int j = 0; j < NB; j++) acc[i][j] = _mm256_fmadd_ps(a, b[j], acc[i][j]);
    }
  }
  for (int i = 0; i < R; i++)
    for (int j = 0; j < NB; j++) C[i * ldc + j * ldj] = hsum(acc[i][j]);
}

// Few rows times B read in place: strips of NV vectors per row so each B row is read in
// long contiguous runs (a 2-vector tile jumps to the next row every 128 bytes, which
// halves the bandwidth when B streams from memory). Writes C (no accumulate).
template <int R, int NV>
static void ukw(long kc, const float* A, long ars, long acs, const float* B, long ldb, float* C, long ldc) {
  __m256 c[R][NV];
  for (int i = 0; i < R; i++)
    for (int v = 0; v < NV; v++) c[i][v] = _mm256_setzero_ps();
  for (long k = 0; k < kc; k++) {
    const float* b = B + k * ldb;
    const float* a = A + k * acs;
    __m256 bv[NV];
#pragma GCC unroll 16
    for (int v = 0; v < NV; v++) bv[v] = _mm256_loadu_ps(b + v * 8);
#pragma GCC unroll 4
    for (int i = 0; i < R; i++) {
      const __m256 av = _mm256_broadcast_ss(a + i * ars);
#pragma GCC unroll 16
      for (int v = 0; v < NV; v++) c[i][v] = _mm256_fmadd_ps(av, bv[v], c[i][v]);
    }
  }
  for (int i = 0; i < R; i++)
    for (int v = 0; v < NV; v++) _mm256_storeu_ps(C + i * ldc + v * 8, c[i][v]);
}

// Full-width strips of ukw over `ncols` columns; returns the columns done (the rest is left to ukr).
static long wide(int r, long kc, const float* A, long ars, long acs, const float* B, long ldb, float* C, long ldc, long ncols) {
  long w, j = 0;
  switch (r) {
    case 1:
      w = 64;
      for (; j + w <= ncols; j += w) ukw<1, 8>(kc, A, ars, acs, B + j, ldb, C + j, ldc);
      return j;
    case 2:
      w = 32;
      for (; j + w <= ncols; j += w) ukw<2, 4>(kc, A, ars, acs, B + j, ldb, C + j, ldc);
      return j;
    case 3:
      w = 24;
      for (; j + w <= ncols; j += w) ukw<3, 3>(kc, A, ars, acs, B + j, ldb, C + j, ldc);
      return j;
    case 4:
      w = 16;
      for (; j + w <= ncols; j += w) ukw<4, 2>(kc, A, ars, acs, B + j, ldb, C + j, ldc);
      return j;
    default:
      return 0;
  }
}

#include "gemm_driver.inc"

// C[i, j] = scale[j] * dot(A[i, :K], q(j, :K)) for the 4 channels of group G (q8.h), storing the
// first `valid`; one row keeps U = 2 accumulator sets (see the AVX-512 q8dot).
template <int R>
static void q8dot(long K, long kp, const float* A, const int8_t* G, const float* scale, float* C, long ldc, int valid) {
  constexpr int NB = 4;
  constexpr int U = R == 1 ? 2 : 1;
  __m256 acc[U][R][NB];
  for (int u = 0; u < U; u++)
    for (int i = 0; i < R; i++)
      for (int j = 0; j < NB; j++) acc[u][i][j] = _mm256_setzero_ps();
  long k = 0;
  for (; k + 8 * U <= K; k += 8 * U) {
    // Prefetch two groups ahead (see the AVX-512 q8dot).
    if ((k & 63) == 0)
      for (int j = 0; j < NB; j++) _mm_prefetch(reinterpret_cast<const char*>(q8_group_at(G + 2 * NB * kp, j, k)), _MM_HINT_T0);
#pragma GCC unroll 2
    for (int u = 0; u < U; u++) {
      __m256 w[NB];
      for (int j = 0; j < NB; j++)
        w[j] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q8_group_at(G, j, k + 8 * u)))));
      for (int i = 0; i < R; i++) {
        const __m256 a = _mm256_loadu_ps(A + i * K + k + 8 * u);
        for (int j = 0; j < NB; j++) acc[u][i][j] = _mm256_fmadd_ps(a, w[j], acc[u][i][j]);
      }
    }
  }
  for (int i = 0; i < R; i++)
    for (int j = 0; j < valid; j++) {
      __m256 v = acc[0][i][j];
      for (int u = 1; u < U; u++) v = _mm256_add_ps(v, acc[u][i][j]);
      float s = hsum(v);
      for (long kk = k; kk < K; kk++) s += A[i * K + kk] * static_cast<float>(*q8_group_at(G, j, kk));
      C[i * ldc + j] = s * scale[j];
    }
}

#include "q8_driver.inc"

}  // namespace avx2

void gemm_f32_avx2(const GemmArgs& g, ThreadPool& pool) { avx2::drive(g, pool); }
void q8_matmul_avx2(const Q8Args& g, ThreadPool& pool) { avx2::q8_drive(g, pool); }
void q8_matmul_batch_avx2(const Q8Args* g, int count, ThreadPool& pool) { avx2::q8_drive_batch(g, count, pool); }
void q8_matmul_t_avx2(const Q8Args& g, ThreadPool& pool) { avx2::q8t_drive(g, pool); }

}  // namespace polyglot

#pragma GCC pop_options
