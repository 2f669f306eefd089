// int8 x int8 products with AVX-512 VNNI (vpdpbusd): activations are quantized per row on
// the fly (symmetric, s_a = max|a| / 127) and offset to unsigned (u = qa + 128, since
// vpdpbusd multiplies u8 by s8); the offset's contribution 128 * sum_k q[j, k] is removed
// with the per-channel column sums kept beside the weight. C[i, j] = s_a[i] * s[j] * sum_k qa[i, k] q[j, k].
#include <immintrin.h>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "q8.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx512vnni,fma")

namespace polyglot {
namespace {

struct VnniArgs {
  const uint8_t* u;  // [m, kp] activations as u8 (zero past k)
  const float* sa;   // [m]
  long kp;           // k rounded up to 64
  float* c;
  long m;
  const Q8Weight* w;
};

template <int R, int NB>
void dot(const VnniArgs& g, long i, long j) {
  const Q8Weight& w = *g.w;
  __m512i acc[R][NB];
  for (int r = 0; r < R; r++)
    for (int b = 0; b < NB; b++) acc[r][b] = _mm512_setzero_si512();
  const long K = w.k;
  long k = 0;
  for (; k + 64 <= K; k += 64) {
    __m512i q[NB];
    for (int b = 0; b < NB; b++) q[b] = _mm512_loadu_si512(q8_at(w, j + b, k));
    for (int r = 0; r < R; r++) {
      const __m512i u = _mm512_loadu_si512(g.u + (i + r) * g.kp + k);
      for (int b = 0; b < NB; b++) acc[r][b] = _mm512_dpbusd_epi32(acc[r][b], u, q[b]);
    }
  }
  if (k < K) {
    const __mmask64 m = K - k >= 64 ? ~0ULL : ((1ULL << (K - k)) - 1);
    __m512i q[NB];
    for (int b = 0; b < NB; b++) q[b] = _mm512_maskz_loadu_epi8(m, q8_at(w, j + b, k));
    for (int r = 0; r < R; r++) {
      const __m512i u = _mm512_maskz_loadu_epi8(m, g.u + (i + r) * g.kp + k);
      for (int b = 0; b < NB; b++) acc[r][b] = _mm512_dpbusd_epi32(acc[r][b], u, q[b]);
    }
  }
  for (int r = 0; r < R; r++)
    for (int b = 0; b < NB; b++) {
      const int32_t s = _mm512_reduce_add_epi32(acc[r][b]) - 128 * w.colsum[j + b];
      g.c[(i + r) * w.n + j + b] = static_cast<float>(s) * (g.sa[i + r] * w.scale[j + b]);
    }
}

template <int R>
void rows(const VnniArgs& g, long i, long j0, long j1) {
  long j = j0;
  for (; j + 4 <= j1; j += 4) dot<R, 4>(g, i, j);
  for (; j < j1; j++) dot<R, 1>(g, i, j);
}

constexpr long CHUNK = 256;

void task(void* vargs, long t, int) {
  const VnniArgs& g = *static_cast<const VnniArgs*>(vargs);
  const long n = g.w->n;
  const long j0 = t * CHUNK, j1 = j0 + CHUNK < n ? j0 + CHUNK : n;
  long i = 0;
  for (; i + 4 <= g.m; i += 4) rows<4>(g, i, j0, j1);
  for (; i < g.m; i++) rows<1>(g, i, j0, j1);
}

}  // namespace

void q8_matmul_vnni(const Q8Args& a, ThreadPool& pool) {
  const Q8Weight& w = *a.w;
  const long kp = (w.k + 63) / 64 * 64;
  std::vector<uint8_t> u(static_cast<size_t>(a.m) * kp, 0);
  std::vector<float> sa(static_cast<size_t>(a.m));
  for (long i = 0; i < a.m; i++) {
    const float* x = a.a + i * w.k;
    float mx = 0.f;
    for (long k = 0; k < w.k; k++) mx = std::fmax(mx, std::fabs(x[k]));
    const float s = mx > 0.f ? mx / 127.f : 1.f;
    const float inv = 1.f / s;
    uint8_t* ui = u.data() + i * kp;
    for (long k = 0; k < w.k; k++) ui[k] = static_cast<uint8_t>(static_cast<int>(std::nearbyint(x[k] * inv)) + 128);
    sa[static_cast<size_t>(i)] = s;
  }
  VnniArgs g{u.data(), sa.data(), kp, a.c, a.m, &w};
  pool.run((w.n + CHUNK - 1) / CHUNK, task, &g);
}

}  // namespace polyglot

#pragma GCC pop_options
