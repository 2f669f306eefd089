// attention(heap, offsets: Float64Array [q, kNew, vNew, k, v, mask, out] (float offsets, -1 =
// absent), dims: Float64Array [b, tq, heads, hd, len, cap, mb, mh, mq], scale): the fused
// attention of attention.h on the wasm heap. Every operand is bounds-checked against the heap.
#include "attention_napi.h"
#include "napi_util.h"

#include "attention.h"

namespace polyglot {
namespace {

using napi::fail;

AttentionHost g_host{};

napi_value Attention(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 4) return fail(env, "polyglot native: attention expects 4 arguments");
  if (g_host.isa() == 0) return fail(env, "polyglot native: this CPU has neither AVX2 nor AVX-512");
  void* p = nullptr;
  size_t bytes = 0;
  if (!napi::heap(env, argv[0], &p, &bytes)) return nullptr;
  const double* off = nullptr;
  const double* dim = nullptr;
  if (!napi::f64array(env, argv[1], 7, &off) || !napi::f64array(env, argv[2], 9, &dim)) return fail(env, "polyglot native: attention expects Float64Array offsets[7] and dims[9]");
  double scale = 0;
  napi_get_value_double(env, argv[3], &scale);
  const long b = static_cast<long>(dim[0]), tq = static_cast<long>(dim[1]), heads = static_cast<long>(dim[2]), hd = static_cast<long>(dim[3]);
  const long len = static_cast<long>(dim[4]), cap = static_cast<long>(dim[5]), mb = static_cast<long>(dim[6]), mh = static_cast<long>(dim[7]), mq = static_cast<long>(dim[8]);
  const bool append = off[1] >= 0;
  if (b < 1 || tq < 1 || heads < 1 || hd < 1 || len < 0 || (append != (off[2] >= 0)) || len + (append ? tq : 0) > cap || len + (append ? tq : 0) < 1 ||
      (mb != 1 && mb != b) || (mh != 1 && mh != heads) || (mq != 1 && mq != tq))
    return fail(env, "polyglot native: attention dimensions are inconsistent");
  const double floats = static_cast<double>(bytes / sizeof(float));
  const double d = static_cast<double>(heads) * hd, tk = static_cast<double>(len + (append ? tq : 0));
  const double sizes[7] = {b * tq * d, b * tq * d, b * tq * d, b * d * cap, b * d * cap, static_cast<double>(mb) * mh * mq * tk, b * tq * d};
  for (int i = 0; i < 7; i++) {
    const bool optional = i == 1 || i == 2 || i == 5;
    if (off[i] < 0 && optional) continue;
    if (off[i] < 0 || off[i] + sizes[i] > floats) return fail(env, "polyglot native: attention operand outside the heap");
  }
  float* base = static_cast<float*>(p);
  auto at = [&](int i) { return off[i] < 0 ? nullptr : base + static_cast<long>(off[i]); };
  AttentionArgs a{at(0), at(1), at(2), at(3), at(4), at(5), at(6), b, tq, heads, hd, len, cap, mb, mh, mq, static_cast<float>(scale)};
  attention_avx2(a, g_host.pool());
  return nullptr;
}

}  // namespace

void attention_define(napi_env env, napi_value exports, AttentionHost host) {
  g_host = host;
  const napi_property_descriptor props[] = {
      {"attention", nullptr, Attention, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}

}  // namespace polyglot
