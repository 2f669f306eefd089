// N-API entry points. Every kernel works in place on memory owned by JS (the wasm heap's
// ArrayBuffer, addressed by offsets): napi_get_arraybuffer_info gives its data pointer
// without copying. The caller passes the buffer on every call because heap growth
// replaces it.
#define NAPI_VERSION 8
#include <node_api.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "gemm.h"
#include "probe.h"
#include "q8.h"
#include "thread_pool.h"
#include "napi_util.h"
#include "adamw.h"
#include "gather_rows.h"
#include "w16_napi.h"
#include "attention_napi.h"
#include "norm_napi.h"
#include "decode_block.h"

namespace polyglot {
namespace {

using napi::args;
using napi::fail;
using napi::flag;
using napi::num;
using napi::number;
using napi::string;
using napi::typed;

enum class Isa { kNone, kAvx2, kAvx512 };

Isa detected_isa() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma"))
    return Isa::kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::kAvx2;
  return Isa::kNone;
}

Isa g_best = detected_isa();
Isa g_isa = g_best;

bool detected_vnni() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512vnni") != 0;
}

// int8 linear products: "vnni" (int8 activations, vpdpbusd) when the CPU has it and
// POLYGLOT_INT8_ACTIVATIONS=1 asks for it, else "float" (float32 activations, weights
// dequantised in registers: weight-only quantization).
const bool g_has_vnni = detected_vnni();
bool g_vnni = g_has_vnni && std::getenv("POLYGLOT_INT8_ACTIVATIONS") != nullptr && std::string(std::getenv("POLYGLOT_INT8_ACTIVATIONS")) == "1";
std::unique_ptr<ThreadPool> g_pool;

int default_threads() {
  const char* env = std::getenv("POLYGLOT_NATIVE_THREADS");
  if (env != nullptr && std::atoi(env) > 0) return std::atoi(env) > 64 ? 64 : std::atoi(env);
  const unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : (hc > 64 ? 64 : static_cast<int>(hc));
}

ThreadPool& pool() {
  if (!g_pool) g_pool = std::make_unique<ThreadPool>(default_threads());
  return *g_pool;
}

const char* isa_name(Isa isa) { return isa == Isa::kAvx512 ? "avx512" : isa == Isa::kAvx2 ? "avx2" : "none"; }

// isa(): the instruction set the kernels use ("avx512" | "avx2" | "none").
napi_value Isa_(napi_env env, napi_callback_info) { return string(env, isa_name(g_isa)); }

// setIsa(name): force a lower instruction set (tests run both kernels); returns the one in use.
napi_value SetIsa(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args(env, info, 1, argv)) return nullptr;
  const std::string want = napi::short_string(env, argv[0]);
  if (want == "avx2" && g_best != Isa::kNone) g_isa = Isa::kAvx2;
  else if (want == "avx512" && g_best == Isa::kAvx512) g_isa = Isa::kAvx512;
  else if (want == "best") g_isa = g_best;
  return string(env, isa_name(g_isa));
}

napi_value Threads(napi_env env, napi_callback_info) { return number(env, pool().threads()); }

// setThreads(n): replaces the pool (benchmarks compare 1 and 2 threads).
napi_value SetThreads(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args(env, info, 1, argv)) return nullptr;
  int n = static_cast<int>(num(env, argv[0]));
  if (n < 1) n = 1;
  if (n > 64) n = 64;
  g_pool.reset();
  g_pool = std::make_unique<ThreadPool>(n);
  return number(env, n);
}

bool buffer_data(napi_env env, napi_value v, float** data, size_t* bytes) {
  void* p = nullptr;
  if (!napi::heap(env, v, &p, bytes)) return false;
  *data = static_cast<float*>(p);
  return true;
}

// matmul(heap, abOffsets: Float64Array, cOffset, m, n, k, transposeA, transposeB,
//        biasOffset (-1 none), biasLen, activation, alpha). Offsets count floats.
napi_value Matmul(napi_env env, napi_callback_info info) {
  napi_value argv[12];
  if (!args(env, info, 12, argv)) return nullptr;
  if (g_isa == Isa::kNone) return fail(env, "polyglot native: this CPU has neither AVX2 nor AVX-512");
  float* base = nullptr;
  size_t bytes = 0;
  if (!buffer_data(env, argv[0], &base, &bytes)) return nullptr;
  napi_typedarray_type type;
  size_t len = 0;
  void* offs = nullptr;
  bool is_ta = false;
  napi_is_typedarray(env, argv[1], &is_ta);
  if (!is_ta || napi_get_typedarray_info(env, argv[1], &type, &len, &offs, nullptr, nullptr) != napi_ok || type != napi_float64_array || len % 2 != 0) {
    return fail(env, "polyglot native: abOffsets must be a Float64Array of pairs");
  }
  GemmArgs g;
  g.base = base;
  g.ab_offsets = static_cast<const double*>(offs);
  g.batches = static_cast<long>(len / 2);
  g.c_offset = static_cast<long>(num(env, argv[2]));
  g.m = static_cast<long>(num(env, argv[3]));
  g.n = static_cast<long>(num(env, argv[4]));
  g.k = static_cast<long>(num(env, argv[5]));
  g.ta = flag(env, argv[6]);
  g.tb = flag(env, argv[7]);
  g.bias_offset = static_cast<long>(num(env, argv[8]));
  g.bias_len = static_cast<long>(num(env, argv[9]));
  g.act = static_cast<Activation>(static_cast<int>(num(env, argv[10])));
  g.alpha = static_cast<float>(num(env, argv[11]));
  // Bounds: every operand must lie inside the buffer (a wrong offset must not scribble).
  const double floats = static_cast<double>(bytes / sizeof(float));
  const double mk = static_cast<double>(g.m) * g.k, kn = static_cast<double>(g.k) * g.n;
  for (long b = 0; b < g.batches; b++) {
    if (g.ab_offsets[2 * b] < 0 || g.ab_offsets[2 * b] + mk > floats || g.ab_offsets[2 * b + 1] < 0 || g.ab_offsets[2 * b + 1] + kn > floats)
      return fail(env, "polyglot native: matmul operand outside the heap");
  }
  if (g.m < 0 || g.n < 0 || g.k < 0 || g.c_offset < 0 || g.c_offset + static_cast<double>(g.batches) * g.m * g.n > floats ||
      (g.bias_offset >= 0 && g.bias_offset + static_cast<double>(g.bias_len) > floats) ||
      static_cast<int>(g.act) < 0 || static_cast<int>(g.act) > 5)
    return fail(env, "polyglot native: matmul output or bias outside the heap");
  if (g_isa == Isa::kAvx512) gemm_f32_avx512(g, pool());
  else gemm_f32_avx2(g, pool());
  return nullptr;
}

// Native bytes held by int8 weights (reported by benches).
double g_q8_bytes = 0;

void free_q8(napi_env, void* data, void*) {
  auto* w = static_cast<Q8Weight*>(data);
  g_q8_bytes -= static_cast<double>(w->np) * w->kp + 4.0 * w->np;
  std::free(w->q);
  std::free(w->scale);
  std::free(w->colsum);
  delete w;
}

// q8Weight(q: Int8Array [n*k], scale: Float32Array [n], k, n): copies into native memory
// (freed when the returned handle is garbage collected).
napi_value Q8Weight_(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!args(env, info, 4, argv)) return nullptr;
  void* q = nullptr;
  void* s = nullptr;
  size_t qlen = 0, slen = 0;
  const long k = static_cast<long>(num(env, argv[2])), n = static_cast<long>(num(env, argv[3]));
  if (!typed(env, argv[0], napi_int8_array, &q, &qlen) || !typed(env, argv[1], napi_float32_array, &s, &slen) || k <= 0 || n <= 0 ||
      qlen != static_cast<size_t>(n) * k || slen != static_cast<size_t>(n))
    return fail(env, "polyglot native: q8Weight expects Int8Array[n*k], Float32Array[n], k, n");
  auto* w = new Q8Weight;
  w->k = k;
  w->n = n;
  w->kp = (k + 63) / 64 * 64;
  w->np = (n + 3) / 4 * 4;
  const size_t packed = static_cast<size_t>(w->np) * w->kp, channels = ((static_cast<size_t>(w->np) * 4 + 63) / 64) * 64;
  w->q = static_cast<int8_t*>(std::aligned_alloc(64, packed));
  w->scale = static_cast<float*>(std::aligned_alloc(64, channels));
  w->colsum = static_cast<int32_t*>(std::aligned_alloc(64, channels));
  if (w->q == nullptr || w->scale == nullptr || w->colsum == nullptr) {
    std::free(w->q);
    std::free(w->scale);
    std::free(w->colsum);
    delete w;
    return fail(env, "polyglot native: out of memory for int8 weights");
  }
  std::memset(w->q, 0, packed);
  std::memset(w->scale, 0, channels);
  std::memset(w->colsum, 0, channels);
  const int8_t* src = static_cast<const int8_t*>(q);
  for (long j = 0; j < n; j++) {
    int32_t sum = 0;
    for (long k0 = 0; k0 < k; k0 += 64) std::memcpy(const_cast<int8_t*>(q8_at(*w, j, k0)), src + j * k + k0, static_cast<size_t>(k - k0 < 64 ? k - k0 : 64));
    for (long kk = 0; kk < k; kk++) sum += src[j * k + kk];
    w->colsum[j] = sum;
  }
  std::memcpy(w->scale, s, slen * 4);
  g_q8_bytes += static_cast<double>(packed) + 4.0 * w->np;
  return napi::tagged_external(env, w, free_q8, napi::kQ8WeightTag);
}

const Q8Weight* q8_handle(napi_env env, napi_value v) {
  const auto* w = static_cast<const Q8Weight*>(napi::external_of(env, v, napi::kQ8WeightTag));
  if (w == nullptr) napi_throw_error(env, nullptr, "polyglot native: not an int8 weight");
  return w;
}

// The forward int8 product in the mode and instruction set in use (g_isa != kNone).
void q8_forward(const Q8Args& g) {
  const Q8Weight* w = g.w;
  if (g_isa == Isa::kAvx512 && g_vnni) {
    q8_matmul_vnni(g, pool());
    if (g.bias != nullptr)
      for (long i = 0; i < g.m; i++)
        for (long j = 0; j < w->n; j++) g.c[i * w->n + j] += g.bias[j];
  } else if (g_isa == Isa::kAvx512) q8_matmul_avx512(g, pool());
  else q8_matmul_avx2(g, pool());
}

// Independent forward products as one pool job where the mode allows (VNNI runs them one by one).
void q8_forward_batch(const Q8Args* g, int count) {
  if (g_isa == Isa::kAvx512 && g_vnni) {
    for (int i = 0; i < count; i++) q8_forward(g[i]);
  } else if (g_isa == Isa::kAvx512) q8_matmul_batch_avx512(g, count, pool());
  else q8_matmul_batch_avx2(g, count, pool());
}

void f32_forward(const GemmArgs& g) {
  if (g_isa == Isa::kAvx512) gemm_f32_avx512(g, pool());
  else gemm_f32_avx2(g, pool());
}

// q8Matmul(heap, weight, aOffset, cOffset, m[, biasOffset]): C[m, n] = A[m, k] · W (+ bias [n]
// when biasOffset >= 0); with `transposed` (q8MatmulT(heap, weight, dyOffset, dxOffset, m)):
// dX[m, k] = dY[m, n] · Wᵀ. Float offsets.
napi_value q8_product(napi_env env, napi_callback_info info, bool transposed) {
  napi_value argv[6];
  size_t argc = 6;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 5) {
    napi_throw_type_error(env, nullptr, "polyglot native: wrong number of arguments");
    return nullptr;
  }
  if (g_isa == Isa::kNone) return fail(env, "polyglot native: this CPU has neither AVX2 nor AVX-512");
  float* base = nullptr;
  size_t bytes = 0;
  if (!buffer_data(env, argv[0], &base, &bytes)) return nullptr;
  const Q8Weight* w = q8_handle(env, argv[1]);
  if (w == nullptr) return nullptr;
  const double a_off = num(env, argv[2]), c_off = num(env, argv[3]), m = num(env, argv[4]);
  const double floats = static_cast<double>(bytes / sizeof(float));
  const double from = static_cast<double>(transposed ? w->n : w->k), to = static_cast<double>(transposed ? w->k : w->n);
  if (m < 0 || a_off < 0 || c_off < 0 || a_off + m * from > floats || c_off + m * to > floats)
    return fail(env, "polyglot native: int8 matmul operand outside the heap");
  const double bias_off = !transposed && argc >= 6 ? num(env, argv[5]) : -1;
  if (bias_off >= 0 && bias_off + static_cast<double>(w->n) > floats) return fail(env, "polyglot native: int8 matmul bias outside the heap");
  Q8Args g{base + static_cast<long>(a_off), base + static_cast<long>(c_off), static_cast<long>(m), w};
  if (bias_off >= 0) g.bias = base + static_cast<long>(bias_off);
  if (transposed && g_isa == Isa::kAvx512) q8_matmul_t_avx512(g, pool());
  else if (transposed) q8_matmul_t_avx2(g, pool());
  else q8_forward(g);
  return nullptr;
}

napi_value Q8Matmul(napi_env env, napi_callback_info info) { return q8_product(env, info, false); }
napi_value Q8MatmulT(napi_env env, napi_callback_info info) { return q8_product(env, info, true); }

// q8Read(weight, q: Int8Array [n*k], scale: Float32Array [n]): copies the weight back out.
napi_value Q8Read(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!args(env, info, 3, argv)) return nullptr;
  const Q8Weight* w = q8_handle(env, argv[0]);
  if (w == nullptr) return nullptr;
  void* q = nullptr;
  void* s = nullptr;
  size_t qlen = 0, slen = 0;
  if (!typed(env, argv[1], napi_int8_array, &q, &qlen) || !typed(env, argv[2], napi_float32_array, &s, &slen) ||
      qlen != static_cast<size_t>(w->n) * w->k || slen != static_cast<size_t>(w->n))
    return fail(env, "polyglot native: q8Read expects Int8Array[n*k], Float32Array[n]");
  int8_t* dst = static_cast<int8_t*>(q);
  for (long j = 0; j < w->n; j++)
    for (long k0 = 0; k0 < w->k; k0 += 64) std::memcpy(dst + j * w->k + k0, q8_at(*w, j, k0), static_cast<size_t>(w->k - k0 < 64 ? w->k - k0 : 64));
  std::memcpy(s, w->scale, slen * 4);
  return nullptr;
}

napi_value Q8Bytes(napi_env env, napi_callback_info) { return number(env, g_q8_bytes); }

// int8Mode(name?): "vnni" (int8 activations, when the CPU has AVX-512 VNNI) or "float"
// (weight-only); without an argument, the mode in use. Returns the mode in use.
napi_value Int8Mode(napi_env env, napi_callback_info info) {
  const std::string want = napi::short_string(env, napi::optional_arg(env, info));
  if (want == "vnni") g_vnni = g_has_vnni;
  else if (want == "float") g_vnni = false;
  return string(env, g_vnni && g_isa == Isa::kAvx512 ? "vnni" : "float");
}

// streamProbe(bytes, reps): best GB/s of reading a fresh buffer with every pool thread (probe.cc).
napi_value StreamProbe(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!args(env, info, 2, argv)) return nullptr;
  const double bytes = num(env, argv[0]), reps = num(env, argv[1]);
  if (g_isa == Isa::kNone || !(bytes >= 1 << 20 && bytes <= 1e11) || !(reps >= 1 && reps <= 1000))
    return fail(env, "polyglot native: streamProbe expects bytes in [1 MiB, 100 GB] and reps in [1, 1000] on an AVX2 CPU");
  return number(env, stream_read_gbs(static_cast<long>(bytes), static_cast<int>(reps), g_isa == Isa::kAvx512, pool()));
}

napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"isa", nullptr, Isa_, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setIsa", nullptr, SetIsa, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"threads", nullptr, Threads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"matmul", nullptr, Matmul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"q8Weight", nullptr, Q8Weight_, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"q8Matmul", nullptr, Q8Matmul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"q8MatmulT", nullptr, Q8MatmulT, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"q8Read", nullptr, Q8Read, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"int8Mode", nullptr, Int8Mode, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"q8Bytes", nullptr, Q8Bytes, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"streamProbe", nullptr, StreamProbe, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  // 16-bit weights (w16_napi.cc) share the pool and the instruction set in use.
  w16_define(env, exports, {pool, [] { return static_cast<int>(g_isa); }});
  // The fused AdamW step (adamw.cc) runs on the same pool.
  adamw_define(env, exports, {pool});
  // Embedding lookups from tied tables kept only in native memory (gather_rows.cc).
  gather_rows_define(env, exports);
  // Fused decode attention (attention_napi.cc).
  attention_define(env, exports, {pool, [] { return static_cast<int>(g_isa); }});
  // Fused LayerNorm and GELU (norm_napi.cc).
  norm_define(env, exports, {pool, [] { return static_cast<int>(g_isa); }});
  // Whole pre-norm residual sub-blocks of a decode step (decode_block.cc), built from the kernels above.
  decode_block_define(env, exports, {pool, [] { return static_cast<int>(g_isa); }, q8_forward, q8_forward_batch, w16_forward, f32_forward});
  return exports;
}

}  // namespace
}  // namespace polyglot

NAPI_MODULE(NODE_GYP_MODULE_NAME, polyglot::Init)
