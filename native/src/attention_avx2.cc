// AVX2 + FMA fused attention (attention.h), one task per (batch, head). Decode steps are tiny
// (tq = 1: one dot product and one multiply-add of a value row per cached key), so the point is one kernel call per
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
  __m256 s0 = _mm256_setzero_ps();
  for (long i = 0; i < n; i += 8) {
    const __m256i m = lanes(n - i);
    s0 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m), s0);
  }
  return hsum(s0);
}

// s[0..4) = q · k_j for the 4 key rows at k, k + hd, ...: four independent chains, one reduction.
inline void dot4(const float* q, const float* k, long hd, float* s) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  long x = 0;
  for (; x + 8 <= hd; x += 8) {
    const __m256 qv = _mm256_loadu_ps(q + x);
    a0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k + x), a0);
    a1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k + hd + x), a1);
    a2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k + 2 * hd + x), a2);
    a3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k + 3 * hd + x), a3);
  }
  if (x < hd) {
    const __m256i m = lanes(hd - x);
    const __m256 qv = _mm256_maskload_ps(q + x, m);
    a0 = _mm256_fmadd_ps(qv, _mm256_maskload_ps(k + x, m), a0);
    a1 = _mm256_fmadd_ps(qv, _mm256_maskload_ps(k + hd + x, m), a1);
    a2 = _mm256_fmadd_ps(qv, _mm256_maskload_ps(k + 2 * hd + x, m), a2);
    a3 = _mm256_fmadd_ps(qv, _mm256_maskload_ps(k + 3 * hd + x, m), a3);
  }
  const __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
  _mm_storeu_ps(s, _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1)));
}

// exp(x) for 8 lanes (Cephes' expf as in avx_mathfun: range reduction by ln 2, degree-5
// polynomial, ~1 ulp); 0 below the float denormal range, so masked keys weigh exactly 0.
inline __m256 exp8(__m256 x) {
  const __m256 underflow = _mm256_cmp_ps(x, _mm256_set1_ps(-87.33654f), _CMP_LT_OQ);
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.33654f)), _mm256_set1_ps(88.3762626647949f));
  const __m256 fx = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(underflow, _mm256_mul_ps(y, _mm256_castsi256_ps(e)));
}

// out[0, 8 * NV) (the last vector masked by `tail`) = sum_j p[j] * v_j: accumulators stay in registers.
template <int NV>
void context_block(const float* p, const float* v, long hd, long keys, __m256i tail, float* out) {
  __m256 acc[NV];
  for (int c = 0; c < NV; c++) acc[c] = _mm256_setzero_ps();
  for (long j = 0; j < keys; j++) {
    const __m256 pj = _mm256_set1_ps(p[j]);
    const float* vj = v + j * hd;
    for (int c = 0; c < NV - 1; c++) acc[c] = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 8 * c), acc[c]);
    acc[NV - 1] = _mm256_fmadd_ps(pj, _mm256_maskload_ps(vj + 8 * (NV - 1), tail), acc[NV - 1]);
  }
  for (int c = 0; c < NV - 1; c++) _mm256_storeu_ps(out + 8 * c, acc[c]);
  _mm256_maskstore_ps(out + 8 * (NV - 1), tail, acc[NV - 1]);
}

// out[0, hd) = sum_j p[j] * v_j, in blocks of up to 64 floats.
void context(const float* p, const float* v, long hd, long keys, float* out) {
  for (long x0 = 0; x0 < hd; x0 += 64) {
    const long w = hd - x0 < 64 ? hd - x0 : 64;
    const int nv = static_cast<int>((w + 7) / 8);
    const __m256i tail = lanes(w - 8 * (nv - 1));
    switch (nv) {
      case 1: context_block<1>(p, v + x0, hd, keys, tail, out + x0); break;
      case 2: context_block<2>(p, v + x0, hd, keys, tail, out + x0); break;
      case 3: context_block<3>(p, v + x0, hd, keys, tail, out + x0); break;
      case 4: context_block<4>(p, v + x0, hd, keys, tail, out + x0); break;
      case 5: context_block<5>(p, v + x0, hd, keys, tail, out + x0); break;
      case 6: context_block<6>(p, v + x0, hd, keys, tail, out + x0); break;
      case 7: context_block<7>(p, v + x0, hd, keys, tail, out + x0); break;
      default: context_block<8>(p, v + x0, hd, keys, tail, out + x0); break;
    }
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
  if (static_cast<long>(scores.size()) < tk + 8) scores.resize(tk + 8);
  if (static_cast<long>(qs.size()) < hd) qs.resize(hd);
  float* s = scores.data();
  for (long i = 0; i < a.tq; i++) {
    const float* qi = a.q + (b * a.tq + i) * d + h * hd;
    for (long x = 0; x < hd; x++) qs[x] = qi[x] * a.scale;
    long j = 0;
    for (; j + 4 <= tk; j += 4) dot4(qs.data(), kb + j * hd, hd, s + j);
    for (; j < tk; j++) s[j] = dot(qs.data(), kb + j * hd, hd);
    // + mask, clamped at finfo.min (as the tfjs path: only with a mask); the row maximum.
    __m256 mx = _mm256_set1_ps(-INFINITY);
    const float* mrow = nullptr;
    if (a.mask != nullptr) {
      const long mb = a.mb == 1 ? 0 : b, mh = a.mh == 1 ? 0 : h, mq = a.mq == 1 ? 0 : i;
      mrow = a.mask + ((mb * a.mh + mh) * a.mq + mq) * tk;
    }
    const __m256 lowest = _mm256_set1_ps(-FLT_MAX);
    for (j = 0; j < tk; j += 8) {
      const __m256i m = lanes(tk - j);
      __m256 v = _mm256_maskload_ps(s + j, m);
      if (mrow != nullptr) v = _mm256_max_ps(_mm256_add_ps(v, _mm256_maskload_ps(mrow + j, m)), lowest);
      _mm256_maskstore_ps(s + j, m, v);
      mx = _mm256_max_ps(mx, _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), v, _mm256_castsi256_ps(m)));
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const __m256 mxv = _mm256_set1_ps(_mm_cvtss_f32(m4));
    // softmax: exp(s - max) / sum
    __m256 sumv = _mm256_setzero_ps();
    for (j = 0; j < tk; j += 8) {
      const __m256i m = lanes(tk - j);
      const __m256 e = _mm256_and_ps(exp8(_mm256_sub_ps(_mm256_maskload_ps(s + j, m), mxv)), _mm256_castsi256_ps(m));
      _mm256_maskstore_ps(s + j, m, e);
      sumv = _mm256_add_ps(sumv, e);
    }
    const __m256 total = _mm256_set1_ps(hsum(sumv));
    for (j = 0; j < tk; j += 8) {
      const __m256i m = lanes(tk - j);
      _mm256_maskstore_ps(s + j, m, _mm256_div_ps(_mm256_maskload_ps(s + j, m), total));
    }
    context(s, vb, hd, tk, a.out + (b * a.tq + i) * d + h * hd);
  }
}

}  // namespace

// Below this many multiply-adds a call runs on the caller alone: measured (2 cores, 16 heads of 64),
// a second thread loses up to ~128 cached keys and wins from ~320 (the cache then streams from memory).
constexpr double kMinParallelAttention = 1 << 18;

void attention_avx2(const AttentionArgs& a, ThreadPool& pool) {
  const double work = static_cast<double>(a.b) * a.heads * a.tq * attention_keys(a) * a.hd * 2;
  auto* ctx = const_cast<AttentionArgs*>(&a);
  if (work < kMinParallelAttention) {
    for (long t = 0; t < a.b * a.heads; t++) task(ctx, t, 0);
  } else {
    pool.run(a.b * a.heads, task, ctx);
  }
}

}  // namespace polyglot

#pragma GCC pop_options
