// LayerNorm and GELU kernels (norm.h), AVX2+FMA: 8 floats a vector, tails through masked
// loads/stores (so the tail lanes go through the same arithmetic as the rest).
#pragma GCC target("avx2,fma")
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "norm.h"

namespace polyglot {
namespace {

alignas(32) const int kMaskTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

// Lanes [0, rem) on (rem in 1..8).
inline __m256i tail_mask(long rem) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMaskTable + 8 - rem)); }

inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

// Sum of x[0..d) (4 accumulators, then a masked tail).
inline float row_sum(const float* x, long d) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  long i = 0;
  for (; i + 32 <= d; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(x + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_loadu_ps(x + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_loadu_ps(x + i + 24));
  }
  for (; i + 8 <= d; i += 8) a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
  if (i < d) a1 = _mm256_add_ps(a1, _mm256_maskload_ps(x + i, tail_mask(d - i)));
  return hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}

// Sum of (x - mean)^2 (a second pass over the row, still in L1: exact for large offsets).
inline float row_sq_dev(const float* x, long d, float mean) {
  const __m256 m = _mm256_set1_ps(mean);
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  long i = 0;
  for (; i + 32 <= d; i += 32) {
    const __m256 v0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), m), v1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), m);
    const __m256 v2 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 16), m), v3 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 24), m);
    a0 = _mm256_fmadd_ps(v0, v0, a0);
    a1 = _mm256_fmadd_ps(v1, v1, a1);
    a2 = _mm256_fmadd_ps(v2, v2, a2);
    a3 = _mm256_fmadd_ps(v3, v3, a3);
  }
  for (; i + 8 <= d; i += 8) {
    const __m256 v = _mm256_sub_ps(_mm256_loadu_ps(x + i), m);
    a0 = _mm256_fmadd_ps(v, v, a0);
  }
  if (i < d) {
    const __m256i mask = tail_mask(d - i);
    const __m256 v = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, mask), m), _mm256_castsi256_ps(mask));
    a1 = _mm256_fmadd_ps(v, v, a1);
  }
  return hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}

struct Moments {
  float mean;
  float rstd;
};

inline Moments moments(const float* x, long d, float eps) {
  const float mean = row_sum(x, d) / static_cast<float>(d);
  const float var = row_sq_dev(x, d, mean) / static_cast<float>(d);
  return {mean, 1.0f / std::sqrt(var + eps)};
}

// Rows [lo, hi) of a job split into `tasks` equal chunks.
inline void chunk(long rows, long tasks, long t, long* lo, long* hi) {
  *lo = rows * t / tasks;
  *hi = rows * (t + 1) / tasks;
}

// About 16k floats a task: enough work to amortise a hand-off, and a fixed function of the
// shape (the gradient's partial sums then add up in the same order whatever the threads do).
inline long task_count(long rows, long d, long cap) { return std::max(1L, std::min({rows, cap, rows * d / 16384})); }

void layer_norm_task(void* ctx, long t, int) {
  const auto& g = *static_cast<const std::pair<const LayerNormArgs*, long>*>(ctx);
  const LayerNormArgs& a = *g.first;
  long lo, hi;
  chunk(a.rows, g.second, t, &lo, &hi);
  const long d = a.d;
  for (long r = lo; r < hi; r++) {
    const float* x = a.x + r * d;
    float* y = a.y + r * d;
    const Moments mo = moments(x, d, a.eps);
    const __m256 m = _mm256_set1_ps(mo.mean), s = _mm256_set1_ps(mo.rstd);
    long i = 0;
    for (; i + 8 <= d; i += 8) {
      const __m256 xn = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), m), s);
      _mm256_storeu_ps(y + i, _mm256_fmadd_ps(xn, _mm256_loadu_ps(a.gamma + i), _mm256_loadu_ps(a.beta + i)));
    }
    if (i < d) {
      const __m256i mask = tail_mask(d - i);
      const __m256 xn = _mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, mask), m), s);
      _mm256_maskstore_ps(y + i, mask, _mm256_fmadd_ps(xn, _mm256_maskload_ps(a.gamma + i, mask), _mm256_maskload_ps(a.beta + i, mask)));
    }
  }
}

struct GradJob {
  const LayerNormGradArgs* a;
  long tasks;
  float* partial;  // [tasks][2 d]: dgamma, dbeta of the task's rows
};

void layer_norm_grad_task(void* ctx, long t, int) {
  const GradJob& job = *static_cast<const GradJob*>(ctx);
  const LayerNormGradArgs& a = *job.a;
  long lo, hi;
  chunk(a.rows, job.tasks, t, &lo, &hi);
  const long d = a.d;
  float* pg = job.partial + t * 2 * d;
  float* pb = pg + d;
  std::fill(pg, pg + 2 * d, 0.0f);
  const float inv_d = 1.0f / static_cast<float>(d);
  for (long r = lo; r < hi; r++) {
    const float* x = a.x + r * d;
    const float* dy = a.dy + r * d;
    float* dx = a.dx + r * d;
    const Moments mo = moments(x, d, a.eps);
    const __m256 m = _mm256_set1_ps(mo.mean), s = _mm256_set1_ps(mo.rstd);
    // Pass 1: sum(g), sum(g * xhat) with g = dy * gamma; dgamma, dbeta partials. g goes to dx
    // for pass 2: recomputing it there let the compiler fuse dy * gamma - mean(g) into one FMA
    // (GCC contracts intrinsics), so a row whose g are all equal (d = 1, a constant row) got
    // rstd times g's rounding error instead of 0.
    __m256 sg = _mm256_setzero_ps(), sgx = sg;
    for (long i = 0; i < d; i += 8) {
      const __m256i mask = tail_mask(std::min(8L, d - i));
      const __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, mask), m), s);
      const __m256 dyv = _mm256_maskload_ps(dy + i, mask);
      const __m256 gv = _mm256_mul_ps(dyv, _mm256_maskload_ps(a.gamma + i, mask));
      _mm256_maskstore_ps(dx + i, mask, gv);
      sg = _mm256_add_ps(sg, gv);
      sgx = _mm256_fmadd_ps(gv, xh, sgx);  // gv is 0 in masked lanes
      _mm256_maskstore_ps(pg + i, mask, _mm256_fmadd_ps(dyv, xh, _mm256_maskload_ps(pg + i, mask)));
      _mm256_maskstore_ps(pb + i, mask, _mm256_add_ps(dyv, _mm256_maskload_ps(pb + i, mask)));
    }
    const __m256 mg = _mm256_set1_ps(hsum(sg) * inv_d), mgx = _mm256_set1_ps(hsum(sgx) * inv_d);
    // Pass 2: dx = rstd * (g - mean(g) - xhat * mean(g * xhat)).
    for (long i = 0; i < d; i += 8) {
      const __m256i mask = tail_mask(std::min(8L, d - i));
      const __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, mask), m), s);
      const __m256 v = _mm256_fnmadd_ps(xh, mgx, _mm256_sub_ps(_mm256_maskload_ps(dx + i, mask), mg));
      _mm256_maskstore_ps(dx + i, mask, _mm256_mul_ps(v, s));
    }
  }
}

// erf for float32 lanes: the rational approximation Eigen and XLA use (odd degree-13 over
// even degree-8 polynomial, inputs clamped to [-4, 4] where erf is +-1 in float32).
inline __m256 erf8(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-4.0f)), _mm256_set1_ps(4.0f));
  const __m256 x2 = _mm256_mul_ps(x, x);
  __m256 p = _mm256_fmadd_ps(x2, _mm256_set1_ps(-2.72614225801306e-10f), _mm256_set1_ps(2.77068142495902e-08f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-2.10102402082508e-06f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-5.69250639462346e-05f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-7.34990630326855e-04f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-2.95459980854025e-03f));
  p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(-1.60960333262415e-02f));
  p = _mm256_mul_ps(x, p);
  __m256 q = _mm256_fmadd_ps(x2, _mm256_set1_ps(-1.45660718464996e-05f), _mm256_set1_ps(-2.13374055278905e-04f));
  q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(-1.68282697438203e-03f));
  q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(-7.37332916720468e-03f));
  q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(-1.42647390514189e-02f));
  return _mm256_div_ps(p, q);
}

// exp for float32 lanes (Cephes expf: 2^n times a degree-6 polynomial on [-ln2/2, ln2/2]);
// inputs below -87.3 give 0, above 88.3 are clamped.
inline __m256 exp8(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.3f);
  const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  x = _mm256_min_ps(_mm256_max_ps(x, lo), _mm256_set1_ps(88.3762626647949f));
  const __m256 fx = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
  const __m256 z = _mm256_mul_ps(x, x);
  __m256 y = _mm256_fmadd_ps(_mm256_set1_ps(1.9875691500e-4f), x, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_add_ps(_mm256_fmadd_ps(y, z, x), _mm256_set1_ps(1.0f));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(under, _mm256_mul_ps(y, _mm256_castsi256_ps(e)));
}

// tanh(u) = 1 - 2 / (exp(2u) + 1) (saturates to +-1; absolute error ~1e-7 near 0).
inline __m256 tanh8(__m256 u) {
  const __m256 e = exp8(_mm256_add_ps(u, u));
  return _mm256_sub_ps(_mm256_set1_ps(1.0f), _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
}

constexpr float kTanhCubic = 0.044715f;

// gelu(x) = 0.5 x (1 + erf(x / sqrt 2)), or 0.5 x (1 + tanh(c (x + 0.044715 x^3))).
inline __m256 gelu8(__m256 x, GeluKind kind, __m256 c) {
  const __m256 one = _mm256_set1_ps(1.0f);
  __m256 t;
  if (kind == GeluKind::kErf) {
    t = erf8(_mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f)));
  } else {
    const __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
    t = tanh8(_mm256_mul_ps(c, _mm256_fmadd_ps(_mm256_set1_ps(kTanhCubic), x3, x)));
  }
  return _mm256_mul_ps(_mm256_mul_ps(x, _mm256_set1_ps(0.5f)), _mm256_add_ps(one, t));
}

// gelu'(x): erf form 0.5 (1 + erf(x / sqrt 2)) + x exp(-x^2 / 2) / sqrt(2 pi); tanh form
// 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 * 0.044715 x^2).
inline __m256 gelu_grad8(__m256 x, GeluKind kind, __m256 c) {
  const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
  const __m256 x2 = _mm256_mul_ps(x, x);
  if (kind == GeluKind::kErf) {
    const __m256 cdf = _mm256_mul_ps(half, _mm256_add_ps(one, erf8(_mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f)))));
    const __m256 pdf = _mm256_mul_ps(exp8(_mm256_mul_ps(x2, _mm256_set1_ps(-0.5f))), _mm256_set1_ps(0.39894228040143268f));
    return _mm256_fmadd_ps(x, pdf, cdf);
  }
  // With e = exp(2u) and r = 2 / (e + 1): tanh u = 1 - r and 1 - tanh^2 u = r (2 - r) = (e r) r.
  // The last form has no cancellation where tanh is near +-1 (1 - t * t lost most digits there,
  // where x is large) and no overflow (e r <= 2).
  const __m256 u = _mm256_mul_ps(c, _mm256_fmadd_ps(_mm256_set1_ps(kTanhCubic), _mm256_mul_ps(x2, x), x));
  const __m256 e = exp8(_mm256_add_ps(u, u));
  const __m256 r = _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one));
  const __m256 t = _mm256_sub_ps(one, r);
  const __m256 sech2 = _mm256_mul_ps(_mm256_mul_ps(e, r), r);
  const __m256 inner = _mm256_mul_ps(c, _mm256_fmadd_ps(_mm256_set1_ps(3.0f * kTanhCubic), x2, one));
  return _mm256_fmadd_ps(_mm256_mul_ps(_mm256_mul_ps(half, x), sech2), inner, _mm256_mul_ps(half, _mm256_add_ps(one, t)));
}

constexpr long kGeluChunk = 16384;

void gelu_task(void* ctx, long t, int) {
  const GeluArgs& a = *static_cast<const GeluArgs*>(ctx);
  const long lo = t * kGeluChunk, hi = std::min(a.n, lo + kGeluChunk);
  const __m256 c = _mm256_set1_ps(a.c);
  long i = lo;
  for (; i + 8 <= hi; i += 8) _mm256_storeu_ps(a.y + i, gelu8(_mm256_loadu_ps(a.x + i), a.kind, c));
  if (i < hi) {
    const __m256i mask = tail_mask(hi - i);
    _mm256_maskstore_ps(a.y + i, mask, gelu8(_mm256_maskload_ps(a.x + i, mask), a.kind, c));
  }
}

void gelu_grad_task(void* ctx, long t, int) {
  const GeluArgs& a = *static_cast<const GeluArgs*>(ctx);
  const long lo = t * kGeluChunk, hi = std::min(a.n, lo + kGeluChunk);
  const __m256 c = _mm256_set1_ps(a.c);
  long i = lo;
  for (; i + 8 <= hi; i += 8) {
    _mm256_storeu_ps(a.y + i, _mm256_mul_ps(_mm256_loadu_ps(a.dy + i), gelu_grad8(_mm256_loadu_ps(a.x + i), a.kind, c)));
  }
  if (i < hi) {
    const __m256i mask = tail_mask(hi - i);
    _mm256_maskstore_ps(a.y + i, mask, _mm256_mul_ps(_mm256_maskload_ps(a.dy + i, mask), gelu_grad8(_mm256_maskload_ps(a.x + i, mask), a.kind, c)));
  }
}

}  // namespace

void layer_norm_avx2(const LayerNormArgs& g, ThreadPool& pool) {
  if (g.rows <= 0 || g.d <= 0) return;
  std::pair<const LayerNormArgs*, long> job{&g, task_count(g.rows, g.d, 256)};
  pool.run_sized(job.second, layer_norm_task, &job, static_cast<double>(g.rows) * g.d);
}

void layer_norm_grad_avx2(const LayerNormGradArgs& g, ThreadPool& pool) {
  if (g.d <= 0) return;
  if (g.rows <= 0) {
    std::fill(g.dgamma, g.dgamma + g.d, 0.0f);
    std::fill(g.dbeta, g.dbeta + g.d, 0.0f);
    return;
  }
  const long tasks = task_count(g.rows, g.d, 32);
  std::vector<float> partial(static_cast<size_t>(tasks) * 2 * g.d);
  GradJob job{&g, tasks, partial.data()};
  pool.run_sized(tasks, layer_norm_grad_task, &job, static_cast<double>(g.rows) * g.d);
  // Partials added in task order: the result does not depend on which thread ran what.
  for (long j = 0; j < g.d; j++) {
    float sg = 0, sb = 0;
    for (long t = 0; t < tasks; t++) {
      sg += partial[t * 2 * g.d + j];
      sb += partial[t * 2 * g.d + g.d + j];
    }
    g.dgamma[j] = sg;
    g.dbeta[j] = sb;
  }
}

void gelu_avx2(const GeluArgs& g, ThreadPool& pool) {
  if (g.n <= 0) return;
  pool.run_sized((g.n + kGeluChunk - 1) / kGeluChunk, gelu_task, const_cast<GeluArgs*>(&g), static_cast<double>(g.n) * 4);
}

void gelu_grad_avx2(const GeluArgs& g, ThreadPool& pool) {
  if (g.n <= 0) return;
  pool.run_sized((g.n + kGeluChunk - 1) / kGeluChunk, gelu_grad_task, const_cast<GeluArgs*>(&g), static_cast<double>(g.n) * 4);
}

}  // namespace polyglot
