// AVX2 + FMA fused attention (attention.h), one task per (batch, head). Decode steps are tiny
// (tq = 1: one dot product and one axpy per cached key), so the point is one kernel call per
// layer instead of ~15 tfjs ops, and no copy of the cache to append to it. Numerics follow the
// tfjs path it replaces: q rounded after scaling, scores + mask clamped at finfo.min only when
// a mask is given (a fully masked row becomes uniform, as HF), softmax as exp(s - max) / sum.
#include <immintrin.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "attention.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma")

namespace polyglot {
namespace {

inline __m256i lanes(long count) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)), idx);
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float dot(const float* a, const float* b, long n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  long i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  for (; i < n; i += 8) {
    const __m256i m = lanes(n - i);
    s0 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m), s0);
  }
  return hsum(_mm256_add_ps(s0, s1));
}

// y[0, n) += p * x[0, n)
inline void axpy(float p, const float* x, float* y, long n) {
  const __m256 pv = _mm256_set1_ps(p);
  long i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(pv, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  if (i < n) {
    const __m256i m = lanes(n - i);
    _mm256_maskstore_ps(y + i, m, _mm256_fmadd_ps(pv, _mm256_maskload_ps(x + i, m), _mm256_maskload_ps(y + i, m)));
  }
}

void task(void* ctx, long t, int) {
  const AttentionArgs& a = *static_cast<const AttentionArgs*>(ctx);
  const long b = t / a.heads, h = t % a.heads, d = a.heads * a.hd, hd = a.hd;
  float* kb = a.k + (b * a.heads + h) * a.cap * hd;
  float* vb = a.v + (b * a.heads + h) * a.cap * hd;
  if (a.k_new != nullptr) {
    for (long i = 0; i < a.tq; i++) {
      std::memcpy(kb + (a.len + i) * hd, a.k_new + (b * a.tq + i) * d + h * hd, hd * sizeof(float));
      std::memcpy(vb + (a.len + i) * hd, a.v_new + (b * a.tq + i) * d + h * hd, hd * sizeof(float));
    }
  }
  const long tk = attention_keys(a);
  thread_local std::vector<float> scores, qs;
  if (static_cast<long>(scores.size()) < tk) scores.resize(tk);
  if (static_cast<long>(qs.size()) < hd) qs.resize(hd);
  float* s = scores.data();
  for (long i = 0; i < a.tq; i++) {
    const float* qi = a.q + (b * a.tq + i) * d + h * hd;
    for (long x = 0; x < hd; x++) qs[x] = qi[x] * a.scale;
    const float* mrow = nullptr;
    if (a.mask != nullptr) {
      const long mb = a.mb == 1 ? 0 : b, mh = a.mh == 1 ? 0 : h, mq = a.mq == 1 ? 0 : i;
      mrow = a.mask + ((mb * a.mh + mh) * a.mq + mq) * tk;
    }
    float mx = -INFINITY;
    for (long j = 0; j < tk; j++) {
      float v = dot(qs.data(), kb + j * hd, hd);
      if (mrow != nullptr) v = std::fmax(v + mrow[j], -FLT_MAX);
      s[j] = v;
      mx = std::fmax(mx, v);
    }
    float sum = 0;
    for (long j = 0; j < tk; j++) {
      s[j] = std::exp(s[j] - mx);
      sum += s[j];
    }
    float* o = a.out + (b * a.tq + i) * d + h * hd;
    std::memset(o, 0, hd * sizeof(float));
    for (long j = 0; j < tk; j++) axpy(s[j] / sum, vb + j * hd, o, hd);
  }
}

}  // namespace

void attention_avx2(const AttentionArgs& a, ThreadPool& pool) {
  const double work = static_cast<double>(a.b) * a.heads * a.tq * attention_keys(a) * a.hd * 2;
  pool.run_sized(a.b * a.heads, task, const_cast<AttentionArgs*>(&a), work);
}

}  // namespace polyglot

#pragma GCC pop_options
