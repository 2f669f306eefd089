// adamwStep(heap, offsets: Float64Array[7], count, scalars: Float64Array[8]):
// torch.optim.AdamW's single-tensor step, in the exact float32 operation order of
// train/adamw.ts's tfjs path (each operation rounded to float32, scalars rounded to float32
// as tf.scalar does), so both paths give the same bits:
//   g    = graw * gradScale                  (only when gradScale != 1)
//   pd   = p * (1 - lr * wd)                 (only when wd != 0)
//   m'   = m + (g - m) * (1 - beta1)
//   v'   = v * beta2 + (g * g) * (1 - beta2)
//   p'   = pd - (m' / (sqrt(v') / bc2sqrt + eps)) * stepSize
// offsets (floats on the heap): p, g, m, v, outP, outM, outV (the outputs may be p, m, v:
// updated in place). No fused multiply-add may
// change the rounding: the file has no FMA target, and contraction is off besides.
#pragma GCC optimize("fp-contract=off")
#include "adamw.h"
#include "napi_util.h"

#include <cmath>

namespace polyglot {
namespace {

using napi::fail;

AdamWHost g_host{};

struct Job {
  const float* p;
  const float* g;
  const float* m;
  const float* v;
  float* outP;
  float* outM;
  float* outV;
  long count;
  long chunk;
  bool scaled;
  bool decayed;
  float gradScale, decay, oneMinusBeta1, beta2, oneMinusBeta2, bc2Sqrt, eps, stepSize;
};

template <bool kScaled, bool kDecayed>
void update(const Job& j, long begin, long end) {
  // Outputs may be the inputs (an in-place update): element i is read before it is written.
  const float* p = j.p;
  const float* g = j.g;
  const float* m = j.m;
  const float* v = j.v;
  float* outP = j.outP;
  float* outM = j.outM;
  float* outV = j.outV;
  const float gs = j.gradScale, decay = j.decay, omb1 = j.oneMinusBeta1, b2 = j.beta2, omb2 = j.oneMinusBeta2, bc2 = j.bc2Sqrt, eps = j.eps, step = j.stepSize;
  for (long i = begin; i < end; i++) {
    const float gi = kScaled ? g[i] * gs : g[i];
    const float pd = kDecayed ? p[i] * decay : p[i];
    const float mi = m[i] + (gi - m[i]) * omb1;
    const float vi = v[i] * b2 + (gi * gi) * omb2;
    const float denom = std::sqrt(vi) / bc2 + eps;
    outP[i] = pd - (mi / denom) * step;
    outM[i] = mi;
    outV[i] = vi;
  }
}

void run_chunk(void* ctx, long task, int) {
  const Job& j = *static_cast<const Job*>(ctx);
  const long begin = task * j.chunk;
  const long end = begin + j.chunk < j.count ? begin + j.chunk : j.count;
  if (j.scaled && j.decayed) update<true, true>(j, begin, end);
  else if (j.scaled) update<true, false>(j, begin, end);
  else if (j.decayed) update<false, true>(j, begin, end);
  else update<false, false>(j, begin, end);
}

napi_value AdamWStep(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!napi::args(env, info, 4, argv)) return nullptr;
  void* heap = nullptr;
  size_t heap_bytes = 0;
  if (!napi::heap(env, argv[0], &heap, &heap_bytes)) return nullptr;
  const double* off = nullptr;
  const double* s = nullptr;
  if (!napi::f64array(env, argv[1], 7, &off) || !napi::f64array(env, argv[3], 8, &s))
    return fail(env, "polyglot native: adamwStep expects 7 offsets and 8 scalars (Float64Array)");
  const long count = static_cast<long>(napi::num(env, argv[2]));
  const size_t floats = heap_bytes / sizeof(float);
  for (size_t i = 0; i < 7; i++) {
    if (!(off[i] >= 0) || count < 0 || off[i] + static_cast<double>(count) > static_cast<double>(floats)) return fail(env, "polyglot native: adamwStep offset outside the heap");
  }
  float* base = static_cast<float*>(heap);
  Job j{base + static_cast<long>(off[0]), base + static_cast<long>(off[1]), base + static_cast<long>(off[2]), base + static_cast<long>(off[3]),
        base + static_cast<long>(off[4]), base + static_cast<long>(off[5]), base + static_cast<long>(off[6]), count, 1 << 16,
        s[0] != 1, s[1] != 1,
        static_cast<float>(s[0]), static_cast<float>(s[1]), static_cast<float>(s[2]), static_cast<float>(s[3]),
        static_cast<float>(s[4]), static_cast<float>(s[5]), static_cast<float>(s[6]), static_cast<float>(s[7])};
  const long tasks = (count + j.chunk - 1) / j.chunk;
  // 28 bytes a parameter: p, g, m, v read; p, m, v written.
  g_host.pool().run_sized(tasks, run_chunk, &j, 28.0 * static_cast<double>(count));
  return nullptr;
}

}  // namespace

void adamw_define(napi_env env, napi_value exports, AdamWHost host) {
  g_host = host;
  const napi_property_descriptor props[] = {
      {"adamwStep", nullptr, AdamWStep, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}

}  // namespace polyglot
