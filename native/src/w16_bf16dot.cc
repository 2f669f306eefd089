// bf16 weights x bf16 activations with AVX-512 BF16 (vdpbf16ps: pairs of bf16 products summed
// into float32 lanes). The activations are rounded to bf16 (nearest even) per call, so this
// loses the activations' low 16 mantissa bits; the default w16 kernels keep them in float32.
// Opt-in (POLYGLOT_BF16_ACTIVATIONS=1 or w16Mode('bf16dot')): docs/QUANTIZATION.md has the
// measured speed and error.
#include <immintrin.h>
#include <cstdint>
#include <vector>

#include "w16.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx512bf16,fma")

namespace polyglot {
namespace {

struct DotArgs {
  const uint16_t* u;  // [m, kp] activations as bf16, zero past k
  long kp;            // k rounded up to 32
  float* c;
  long m;
  const W16Weight* w;
};

template <int R, int NB>
void dot(const DotArgs& g, long i, long j) {
  const W16Weight& w = *g.w;
  __m512 acc[R][NB];
  for (int r = 0; r < R; r++)
    for (int b = 0; b < NB; b++) acc[r][b] = _mm512_setzero_ps();
  const long K = w.k;
  long k = 0;
  for (; k < K; k += 32) {
    const __mmask32 mk = K - k >= 32 ? 0xFFFFFFFFu : static_cast<__mmask32>((1u << (K - k)) - 1);
    __m512i q[NB];
    for (int b = 0; b < NB; b++) q[b] = _mm512_maskz_loadu_epi16(mk, w.w + (j + b) * K + k);
    for (int r = 0; r < R; r++) {
      const __m512i a = _mm512_loadu_si512(g.u + (i + r) * g.kp + k);
      for (int b = 0; b < NB; b++) acc[r][b] = _mm512_dpbf16_ps(acc[r][b], (__m512bh)a, (__m512bh)q[b]);
    }
  }
  for (int r = 0; r < R; r++)
    for (int b = 0; b < NB; b++) g.c[(i + r) * w.n + j + b] = _mm512_reduce_add_ps(acc[r][b]);
}

constexpr long CHUNK = 64;

void task(void* vargs, long t, int) {
  const DotArgs& g = *static_cast<const DotArgs*>(vargs);
  const long n = g.w->n;
  const long j0 = t * CHUNK, j1 = j0 + CHUNK < n ? j0 + CHUNK : n;
  for (long i = 0; i < g.m; i += 4) {
    const long r = g.m - i < 4 ? g.m - i : 4;
    for (long j = j0; j < j1;) {
      const bool four = j + 4 <= j1;
#define DOT_CASE(R)                 \
  case R:                           \
    if (four) dot<R, 4>(g, i, j);   \
    else dot<R, 1>(g, i, j);        \
    break;
      switch (r) {
        DOT_CASE(1)
        DOT_CASE(2)
        DOT_CASE(3)
        DOT_CASE(4)
        default: break;
      }
#undef DOT_CASE
      j += four ? 4 : 1;
    }
  }
}

}  // namespace

void w16_matmul_bf16dot(const W16Args& g, ThreadPool& pool) {
  const long k = g.w->k, kp = (k + 31) / 32 * 32;
  std::vector<uint16_t> u(static_cast<size_t>(g.m) * kp, 0);
  for (long i = 0; i < g.m; i++) {
    const float* a = g.a + i * k;
    uint16_t* dst = u.data() + i * kp;
    for (long kk = 0; kk < k; kk += 16) {
      const __mmask16 m = k - kk >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (k - kk)) - 1);
      const __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, a + kk));
      _mm256_mask_storeu_epi16(dst + kk, m, (__m256i)h);
    }
  }
  DotArgs d{u.data(), kp, g.c, g.m, g.w};
  pool.run((g.w->n + CHUNK - 1) / CHUNK, task, &d);
}

}  // namespace polyglot

#pragma GCC pop_options
