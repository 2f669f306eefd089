// decodeBlock(heap, weights: [4] (int8 / 16-bit weight handle or null), offsets: Float64Array[16],
// dims: Float64Array[16]): one pre-norm residual sub-block (decode_block.h) on the wasm heap.
//
// offsets (floats from the heap start, -1 = absent):
//   0 hidden [m, d]   1 out [m, d]   2 gamma [d]   3 beta [d]   4 scratch [dims[15]]
//   5..8 bias of linear 0..3 [n_i]   9..12 float32 kernel [k_i, n_i] of linear i (when weights[i] is null)
//   13 key, 14 value [b, heads, cap, hd]   15 mask [mb, mh, mq, keys]
// dims: 0 kind (0 self-attention, 1 cross-attention, 2 FFN), 1 b, 2 tq, 3 d, 4 heads, 5 len,
//   6 cap, 7 mb, 8 mh, 9 mq, 10 ffn, 11 activation (0 GELU erf, 1 GELU tanh, 2 ReLU), 12 eps,
//   13 attention scale, 14 GELU tanh coefficient, 15 scratch floats.
// Linears: self-attention q, k, v, out; cross-attention q, -, -, out; FFN fc1, fc2.
// Every operand is bounds-checked against the heap (and every weight's shape against its role)
// before anything runs.
#include "decode_block.h"

#include <cstring>

#include "attention.h"
#include "gemm.h"
#include "napi_util.h"
#include "norm.h"
#include "q8.h"
#include "w16.h"

namespace polyglot {
namespace {

using napi::fail;

DecodeBlockHost g_host{};

enum Kind { kSelf = 0, kCross = 1, kFfn = 2 };
enum Act { kGeluErf = 0, kGeluTanh = 1, kRelu = 2 };

struct Linear {
  const Q8Weight* q8 = nullptr;
  const W16Weight* w16 = nullptr;
  long kernel = -1;  // float32 kernel's heap offset
  const float* bias = nullptr;
  long k = 0, n = 0;
  bool present() const { return q8 != nullptr || w16 != nullptr || kernel >= 0; }
};

// y[m, n] = x[m, k] · W (+ bias): the product the separate kernels compute (int8 adds the bias
// in its kernel; the others add it afterwards, one rounding either way, as tfjs' add).
void product(const Linear& l, float* base, const float* x, float* y, long m) {
  if (l.q8 != nullptr) {
    Q8Args g{x, y, m, l.q8};
    g.bias = l.bias;
    g_host.q8(g);
    return;
  }
  if (l.w16 != nullptr) {
    g_host.w16(W16Args{x, y, m, l.w16});
  } else {
    const double ab[2] = {static_cast<double>(x - base), static_cast<double>(l.kernel)};
    GemmArgs g{base, m, l.n, l.k, false, false, 1, ab, static_cast<long>(y - base), -1, 0, Activation::kLinear, 0.f};
    g_host.f32(g);
  }
  if (l.bias != nullptr)
    for (long i = 0; i < m; i++)
      for (long j = 0; j < l.n; j++) y[i * l.n + j] += l.bias[j];
}

napi_value DecodeBlock(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!napi::args(env, info, 4, argv)) return nullptr;
  if (g_host.isa() == 0) return fail(env, "polyglot native: this CPU has neither AVX2 nor AVX-512");
  void* p = nullptr;
  size_t bytes = 0;
  if (!napi::heap(env, argv[0], &p, &bytes)) return nullptr;
  const double* off = nullptr;
  const double* dim = nullptr;
  bool is_array = false;
  napi_is_array(env, argv[1], &is_array);
  uint32_t wn = 0;
  if (!is_array || napi_get_array_length(env, argv[1], &wn) != napi_ok || wn != 4 || !napi::f64array(env, argv[2], 16, &off) || !napi::f64array(env, argv[3], 16, &dim))
    return fail(env, "polyglot native: decodeBlock expects (heap, weights[4], Float64Array offsets[16], Float64Array dims[16])");
  const int kind = static_cast<int>(dim[0]);
  const long b = static_cast<long>(dim[1]), tq = static_cast<long>(dim[2]), d = static_cast<long>(dim[3]), heads = static_cast<long>(dim[4]);
  const long len = static_cast<long>(dim[5]), cap = static_cast<long>(dim[6]), mb = static_cast<long>(dim[7]), mh = static_cast<long>(dim[8]),
             mq = static_cast<long>(dim[9]), ffn = static_cast<long>(dim[10]);
  const int act = static_cast<int>(dim[11]);
  const double floats = static_cast<double>(bytes / sizeof(float));
  const long m = b * tq;
  if (kind < kSelf || kind > kFfn || b < 1 || tq < 1 || d < 1 || m > 64 || (kind != kFfn && (heads < 1 || d % heads != 0)) || (kind == kFfn && (ffn < 1 || act < kGeluErf || act > kRelu)))
    return fail(env, "polyglot native: decodeBlock dimensions are inconsistent");
  const long hd = kind == kFfn ? 0 : d / heads;
  const bool append = kind == kSelf;
  const long keys = len + (append ? tq : 0);
  if (kind != kFfn && (len < 0 || keys < 1 || keys > cap || (mb != 1 && mb != b) || (mh != 1 && mh != heads) || (mq != 1 && mq != tq)))
    return fail(env, "polyglot native: decodeBlock attention dimensions are inconsistent");

  // The linears and the shape each role requires.
  const bool used[4] = {true, kind != kCross, kind == kSelf, kind != kFfn};
  const long want_k[4] = {d, kind == kFfn ? ffn : d, d, d};
  const long want_n[4] = {kind == kFfn ? ffn : d, d, d, d};
  float* base = static_cast<float*>(p);
  Linear lin[4];
  for (uint32_t i = 0; i < 4; i++) {
    if (!used[i]) continue;
    napi_value w;
    napi_get_element(env, argv[1], i, &w);
    napi_valuetype vt;
    napi_typeof(env, w, &vt);
    Linear& l = lin[i];
    l.k = want_k[i];
    l.n = want_n[i];
    if (vt == napi_null) {
      l.kernel = static_cast<long>(off[9 + i]);
      if (off[9 + i] < 0 || off[9 + i] + static_cast<double>(l.k) * l.n > floats) return fail(env, "polyglot native: decodeBlock float32 kernel outside the heap");
    } else {
      l.q8 = static_cast<const Q8Weight*>(napi::external_of(env, w, napi::kQ8WeightTag));
      if (l.q8 == nullptr) l.w16 = static_cast<const W16Weight*>(napi::external_of(env, w, napi::kW16WeightTag));
      if (l.q8 == nullptr && l.w16 == nullptr) return fail(env, "polyglot native: decodeBlock weight is neither an int8 nor a 16-bit weight");
      const long k = l.q8 != nullptr ? l.q8->k : l.w16->k, n = l.q8 != nullptr ? l.q8->n : l.w16->n;
      if (k != l.k || n != l.n) return fail(env, "polyglot native: decodeBlock weight shape does not fit its role");
    }
    if (off[5 + i] >= 0) {
      if (off[5 + i] + static_cast<double>(l.n) > floats) return fail(env, "polyglot native: decodeBlock bias outside the heap");
      l.bias = base + static_cast<long>(off[5 + i]);
    }
  }

  // Scratch: the normed input, then per kind the intermediates (all [m, ·] float32).
  const double md = static_cast<double>(m) * d;
  const double need = kind == kSelf ? 6 * md : kind == kCross ? 4 * md : 2 * md + static_cast<double>(m) * ffn;
  const double kv = static_cast<double>(b) * heads * cap * hd;
  const double mask_size = static_cast<double>(mb) * mh * mq * keys;
  auto inside = [&](int i, double size) { return off[i] >= 0 && off[i] + size <= floats; };
  if (!inside(0, md) || !inside(1, md) || !inside(2, d) || !inside(3, d) || !inside(4, need) || dim[15] < need ||
      (kind != kFfn && (!inside(13, kv) || !inside(14, kv) || (off[15] >= 0 && !inside(15, mask_size)))))
    return fail(env, "polyglot native: decodeBlock operand outside the heap");
  auto at = [&](int i) { return base + static_cast<long>(off[i]); };
  const float* h = at(0);
  float* out = at(1);
  float* scratch = at(4);
  float* x = scratch;
  ThreadPool& pool = g_host.pool();

  layer_norm_avx2(LayerNormArgs{h, at(2), at(3), x, m, d, static_cast<float>(dim[12])}, pool);
  float* y;
  if (kind == kFfn) {
    float* hidden = scratch + m * d;
    y = hidden + m * ffn;
    product(lin[0], base, x, hidden, m);
    const long count = m * ffn;
    if (act == kRelu) {
      for (long i = 0; i < count; i++) hidden[i] = hidden[i] > 0.f ? hidden[i] : 0.f;
    } else {
      // In place, as the separate kernel's elementwise pass allows (each element read before written).
      gelu_avx2(GeluArgs{hidden, nullptr, hidden, count, act == kGeluErf ? GeluKind::kErf : GeluKind::kTanh, static_cast<float>(dim[14])}, pool);
    }
    product(lin[1], base, hidden, y, m);
  } else {
    float* q = scratch + m * d;
    float* ctx = q + m * d;
    float* k_new = nullptr;
    float* v_new = nullptr;
    if (kind == kSelf) {
      k_new = ctx + m * d;
      v_new = k_new + m * d;
    }
    y = kind == kSelf ? v_new + m * d : ctx + m * d;
    if (kind == kSelf && lin[0].q8 != nullptr && lin[1].q8 != nullptr && lin[2].q8 != nullptr) {
      // int8 q, k and v: one pool job (the same sums as three).
      Q8Args qkv[3] = {{x, q, m, lin[0].q8}, {x, k_new, m, lin[1].q8}, {x, v_new, m, lin[2].q8}};
      for (int i = 0; i < 3; i++) qkv[i].bias = lin[i].bias;
      g_host.q8_batch(qkv, 3);
    } else {
      product(lin[0], base, x, q, m);
      if (kind == kSelf) {
        product(lin[1], base, x, k_new, m);
        product(lin[2], base, x, v_new, m);
      }
    }
    AttentionArgs a{q, k_new, v_new, at(13), at(14), off[15] >= 0 ? at(15) : nullptr, ctx, b, tq, heads, hd, len, cap, mb, mh, mq, static_cast<float>(dim[13])};
    attention_avx2(a, pool);
    product(lin[3], base, ctx, y, m);
  }
  for (long i = 0; i < m * d; i++) out[i] = h[i] + y[i];
  return nullptr;
}

}  // namespace

void decode_block_define(napi_env env, napi_value exports, DecodeBlockHost host) {
  g_host = host;
  const napi_property_descriptor props[] = {
      {"decodeBlock", nullptr, DecodeBlock, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}

}  // namespace polyglot
