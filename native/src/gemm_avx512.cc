// AVX-512 float32 kernels: 8x32 register tiles (16 zmm accumulators), masked edges.
#include <immintrin.h>
#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "gemm.h"
#include "q8.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,fma")

namespace polyglot {
namespace avx512 {

constexpr long MR = 8;
constexpr long NR = 32;
#define MR_MAX 8

static inline __mmask16 mask_lo(int nr) { return nr >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << nr) - 1); }
static inline __mmask16 mask_hi(int nr) { return nr >= 32 ? 0xFFFF : nr > 16 ? static_cast<__mmask16>((1u << (nr - 16)) - 1) : 0; }

// C[R, nr] (+)= A[R, kc] · B[kc, nr]; A(i,k) at A[i*ars + k*acs], B rows ldb apart.
template <int R>
static void ukr(long kc, const float* A, long ars, long acs, const float* B, long ldb, float* C, long ldc, int nr, bool acc) {
  __m512 c0[R], c1[R];
  for (int i = 0; i < R; i++) {
    c0[i] = _mm512_setzero_ps();
    c1[i] = _mm512_setzero_ps();
  }
  const __mmask16 m0 = mask_lo(nr), m1 = mask_hi(nr);
  if (nr == 32) {
    for (long k = 0; k < kc; k++) {
      const float* b = B + k * ldb;
      const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
      const float* a = A + k * acs;
#pragma GCC unroll 8
      for (int i = 0; i < R; i++) {
        const __m512 av = _mm512_set1_ps(a[i * ars]);
        c0[i] = _mm512_fmadd_ps(av, b0, c0[i]);
        c1[i] = _mm512_fmadd_ps(av, b1, c1[i]);
      }
    }
  } else {
    for (long k = 0; k < kc; k++) {
      const float* b = B + k * ldb;
      const __m512 b0 = _mm512_maskz_loadu_ps(m0, b), b1 = _mm512_maskz_loadu_ps(m1, b + 16);
      const float* a = A + k * acs;
#pragma GCC unroll 8
      for (int i = 0; i < R; i++) {
        const __m512 av = _mm512_set1_ps(a[i * ars]);
        c0[i] = _mm512_fmadd_ps(av, b0, c0[i]);
        c1[i] = _mm512_fmadd_ps(av, b1, c1[i]);
      }
    }
  }
  for (int i = 0; i < R; i++) {
    float* c = C + i * ldc;
    if (acc) {
      c0[i] = _mm512_add_ps(c0[i], _mm512_maskz_loadu_ps(m0, c));
      c1[i] = _mm512_add_ps(c1[i], _mm512_maskz_loadu_ps(m1, c + 16));
    }
    _mm512_mask_storeu_ps(c, m0, c0[i]);
    _mm512_mask_storeu_ps(c + 16, m1, c1[i]);
  }
}

// C[i*ldc + j*ldj] = dot(A[i, :K], B[j, :K]) for R rows of A and NB rows of B (writes, no accumulate).
template <int R, int NB>
static void dotk(long K, const float* A, long lda, const float* B, long ldb, float* C, long ldc, long ldj) {
  __m512 acc[R][NB];
  for (int i = 0; i < R; i++)
    for (int j = 0; j < NB; j++) acc[i][j] = _mm512_setzero_ps();
  long k = 0;
  for (; k + 16 <= K; k += 16) {
    // The next NB rows of B at the same position (streamed rows: a tied output projection).
    for (int j = 0; j < NB; j++) _mm_prefetch(reinterpret_cast<const char*>(B + (NB + j) * ldb + k), _MM_HINT_T0);
    __m512 b[NB];
    for (int j = 0; j < NB; j++) b[j] = _mm512_loadu_ps(B + j * ldb + k);
    for (int i = 0; i < R; i++) {
      const __m512 a = _mm512_loadu_ps(A + i * lda + k);
      for (int j = 0; j < NB; j++) acc[i][j] = _mm512_fmadd_ps(a, b[j], acc[i][j]);
    }
  }
  if (k < K) {
    const __mmask16 m = static_cast<__mmask16>((1u << (K - k)) - 1);
    __m512 b[NB];
    for (int j = 0; j < NB; j++) b[j] = _mm512_maskz_loadu_ps(m, B + j * ldb + k);
    for (int i = 0; i < R; i++) {
      const __m512 a = _mm512_maskz_loadu_ps(m, A + i * lda + k);
      for (int j = 0; j < NB; j++) acc[i][j] = _mm512_fmadd_ps(a, b[j], acc[i][j]);
    }
  }
  for (int i = 0; i < R; i++)
    for (int j = 0; j < NB; j++) C[i * ldc + j * ldj] = _mm512_reduce_add_ps(acc[i][j]);
}

static constexpr long PF_ROWS = 8;
// int8 GEMV prefetch distance in groups of channels (2 measured faster than 1; 4 no better).
static constexpr long Q8_PF_GROUPS = 2;

// Few rows times B read in place: strips of NV vectors per row so each B row is read in
// long contiguous runs (a 2-vector tile jumps to the next row every 128 bytes, which
// halves the bandwidth when B streams from memory). Writes C (no accumulate).
template <int R, int NV>
static void ukw(long kc, const float* A, long ars, long acs, const float* B, long ldb, float* C, long ldc) {
  __m512 c[R][NV];
  for (int i = 0; i < R; i++)
    for (int v = 0; v < NV; v++) c[i][v] = _mm512_setzero_ps();
  for (long k = 0; k < kc; k++) {
    const float* b = B + k * ldb;
    const float* a = A + k * acs;
    // B streams from memory (decode reads each weight once): prefetch the strip's row
    // PF rows ahead (the strip is NV cache lines of a row, rows ldb apart).
    if (k + PF_ROWS < kc) {
#pragma GCC unroll 16
      for (int v = 0; v < NV; v++) _mm_prefetch(reinterpret_cast<const char*>(b + PF_ROWS * ldb + v * 16), _MM_HINT_T0);
    }
    __m512 bv[NV];
#pragma GCC unroll 16
    for (int v = 0; v < NV; v++) bv[v] = _mm512_loadu_ps(b + v * 16);
#pragma GCC unroll 4
    for (int i = 0; i < R; i++) {
      const __m512 av = _mm512_set1_ps(a[i * ars]);
#pragma GCC unroll 16
      for (int v = 0; v < NV; v++) c[i][v] = _mm512_fmadd_ps(av, bv[v], c[i][v]);
    }
  }
  for (int i = 0; i < R; i++)
    for (int v = 0; v < NV; v++) _mm512_storeu_ps(C + i * ldc + v * 16, c[i][v]);
}

// Full-width strips of ukw over `ncols` columns; returns the columns done (the rest is left to ukr).
static long wide(int r, long kc, const float* A, long ars, long acs, const float* B, long ldb, float* C, long ldc, long ncols) {
  long w, j = 0;
  switch (r) {
    case 1:
      w = 256;
      for (; j + w <= ncols; j += w) ukw<1, 16>(kc, A, ars, acs, B + j, ldb, C + j, ldc);
      return j;
    case 2:
      w = 128;
      for (; j + w <= ncols; j += w) ukw<2, 8>(kc, A, ars, acs, B + j, ldb, C + j, ldc);
      return j;
    case 3:
      w = 96;
      for (; j + w <= ncols; j += w) ukw<3, 6>(kc, A, ars, acs, B + j, ldb, C + j, ldc);
      return j;
    case 4:
      w = 64;
      for (; j + w <= ncols; j += w) ukw<4, 4>(kc, A, ars, acs, B + j, ldb, C + j, ldc);
      return j;
    default:
      return 0;
  }
}

#include "gemm_driver.inc"

// C[i, j] = scale[j] * dot(A[i, :K], q(j, :K)) for R rows and the 4 int8 channels of group G (q8.h),
// storing the first `valid` channels. One row (decode) has only 4 accumulator chains, too few to hide
// the FMA latency: it keeps U = 2 sets (even / odd 16-blocks of k) so the widening and the FMAs run at
// the rate the bytes arrive.
template <int R>
static void q8dot(long K, long kp, const float* A, const int8_t* G, const float* scale, float* C, long ldc, int valid) {
  constexpr int NB = 4;
  constexpr int U = R == 1 ? 2 : 1;
  __m512 acc[U][R][NB];
  for (int u = 0; u < U; u++)
    for (int i = 0; i < R; i++)
      for (int j = 0; j < NB; j++) acc[u][i][j] = _mm512_setzero_ps();
  long k = 0;
  for (; k + 16 * U <= K; k += 16 * U) {
    // Streamed from memory (decode reads every weight once): prefetch Q8_PF_GROUPS groups ahead at
    // the same position (the group's 4 rows' 64-byte blocks are one 256-byte run).
    if ((k & 63) == 0)
      for (int j = 0; j < NB; j++) _mm_prefetch(reinterpret_cast<const char*>(q8_group_at(G + Q8_PF_GROUPS * NB * kp, j, k)), _MM_HINT_T0);
#pragma GCC unroll 2
    for (int u = 0; u < U; u++) {
      __m512 w[NB];
      for (int j = 0; j < NB; j++)
        w[j] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q8_group_at(G, j, k + 16 * u)))));
      for (int i = 0; i < R; i++) {
        const __m512 a = _mm512_loadu_ps(A + i * K + k + 16 * u);
        for (int j = 0; j < NB; j++) acc[u][i][j] = _mm512_fmadd_ps(a, w[j], acc[u][i][j]);
      }
    }
  }
  for (; k < K; k += 16) {
    const __mmask16 m = K - k >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (K - k)) - 1);
    __m512 w[NB];
    for (int j = 0; j < NB; j++) w[j] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, q8_group_at(G, j, k))));
    for (int i = 0; i < R; i++) {
      const __m512 a = _mm512_maskz_loadu_ps(m, A + i * K + k);
      for (int j = 0; j < NB; j++) acc[0][i][j] = _mm512_fmadd_ps(a, w[j], acc[0][i][j]);
    }
  }
  for (int i = 0; i < R; i++)
    for (int j = 0; j < valid; j++) {
      __m512 s = acc[0][i][j];
      for (int u = 1; u < U; u++) s = _mm512_add_ps(s, acc[u][i][j]);
      C[i * ldc + j] = _mm512_reduce_add_ps(s) * scale[j];
    }
}

#include "q8_driver.inc"

}  // namespace avx512

void gemm_f32_avx512(const GemmArgs& g, ThreadPool& pool) { avx512::drive(g, pool); }
void q8_matmul_avx512(const Q8Args& g, ThreadPool& pool) { avx512::q8_drive(g, pool); }
void q8_matmul_batch_avx512(const Q8Args* g, int count, ThreadPool& pool) { avx512::q8_drive_batch(g, count, pool); }
void q8_matmul_t_avx512(const Q8Args& g, ThreadPool& pool) { avx512::q8t_drive(g, pool); }

}  // namespace polyglot

#pragma GCC pop_options
