// w16Weight / w16Matmul / w16MatmulT / w16Read / w16Bytes / w16Mode: 16-bit linear weights in
// native memory (w16.h). Activations and outputs are float32 on the wasm heap (float offsets).
#include "w16_napi.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "napi_util.h"
#include "w16.h"

namespace polyglot {
namespace {

using napi::args;
using napi::fail;
using napi::num;
using napi::number;
using napi::string;

W16Host g_host{};
double g_bytes = 0;

bool detected_bf16() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16") != 0;
}
const bool g_has_bf16 = detected_bf16();
// bf16 weights: "bf16dot" (activations rounded to bf16, vdpbf16ps) when asked for
// (POLYGLOT_BF16_ACTIVATIONS=1 or w16Mode) and the CPU has it, else "float" (float32 activations).
bool g_bf16dot = g_has_bf16 && std::getenv("POLYGLOT_BF16_ACTIVATIONS") != nullptr && std::string(std::getenv("POLYGLOT_BF16_ACTIVATIONS")) == "1";

bool u16array(napi_env env, napi_value v, uint16_t** data, size_t* len) {
  void* p = nullptr;
  if (!napi::typed(env, v, napi_uint16_array, &p, len)) return false;
  *data = static_cast<uint16_t*>(p);
  return true;
}

void free_w16(napi_env, void* data, void*) {
  auto* w = static_cast<W16Weight*>(data);
  g_bytes -= 2.0 * static_cast<double>(w->n) * w->k;
  std::free(w->w);
  delete w;
}

const W16Weight* handle(napi_env env, napi_value v) {
  const auto* w = static_cast<const W16Weight*>(napi::external_of(env, v, napi::kW16WeightTag));
  if (w == nullptr) napi_throw_error(env, nullptr, "polyglot native: not a 16-bit weight");
  return w;
}

// w16Weight(bits: Uint16Array [n*k], k, n, kind: 0 bf16 | 1 f16): copied into native memory
// (freed when the handle is garbage collected).
napi_value Weight(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!args(env, info, 4, argv)) return nullptr;
  uint16_t* bits = nullptr;
  size_t len = 0;
  const long k = static_cast<long>(num(env, argv[1])), n = static_cast<long>(num(env, argv[2]));
  const int kind = static_cast<int>(num(env, argv[3]));
  if (!u16array(env, argv[0], &bits, &len) || k <= 0 || n <= 0 || len != static_cast<size_t>(n) * k || (kind != 0 && kind != 1))
    return fail(env, "polyglot native: w16Weight expects Uint16Array[n*k], k, n, kind 0 (bf16) or 1 (f16)");
  auto* w = new W16Weight;
  w->k = k;
  w->n = n;
  w->kind = static_cast<W16Kind>(kind);
  w->w = static_cast<uint16_t*>(std::aligned_alloc(64, ((len * 2 + 63) / 64) * 64));
  if (w->w == nullptr) {
    delete w;
    return fail(env, "polyglot native: out of memory for 16-bit weights");
  }
  std::memcpy(w->w, bits, len * 2);
  g_bytes += 2.0 * static_cast<double>(len);
  return napi::tagged_external(env, w, free_w16, napi::kW16WeightTag);
}

napi_value product(napi_env env, napi_callback_info info, bool transposed) {
  napi_value argv[5];
  if (!args(env, info, 5, argv)) return nullptr;
  const int isa = g_host.isa();
  if (isa == 0) return fail(env, "polyglot native: this CPU has neither AVX2 nor AVX-512");
  void* p = nullptr;
  size_t bytes = 0;
  bool is_ab = false;
  napi_is_arraybuffer(env, argv[0], &is_ab);
  if (!is_ab || napi_get_arraybuffer_info(env, argv[0], &p, &bytes) != napi_ok || p == nullptr) {
    napi_throw_type_error(env, nullptr, "polyglot native: expected the wasm heap's ArrayBuffer");
    return nullptr;
  }
  float* base = static_cast<float*>(p);
  const W16Weight* w = handle(env, argv[1]);
  if (w == nullptr) return nullptr;
  const double a_off = num(env, argv[2]), c_off = num(env, argv[3]), m = num(env, argv[4]);
  const double floats = static_cast<double>(bytes / sizeof(float));
  const double from = static_cast<double>(transposed ? w->n : w->k), to = static_cast<double>(transposed ? w->k : w->n);
  if (m < 0 || a_off < 0 || c_off < 0 || a_off + m * from > floats || c_off + m * to > floats)
    return fail(env, "polyglot native: 16-bit matmul operand outside the heap");
  W16Args g{base + static_cast<long>(a_off), base + static_cast<long>(c_off), static_cast<long>(m), w};
  if (!transposed) {
    w16_forward(g);
  } else if (isa == 2) {
    w16_matmul_t_avx512(g, g_host.pool());
  } else {
    w16_matmul_t_avx2(g, g_host.pool());
  }
  return nullptr;
}

napi_value Matmul(napi_env env, napi_callback_info info) { return product(env, info, false); }
napi_value MatmulT(napi_env env, napi_callback_info info) { return product(env, info, true); }

// w16Read(weight, bits: Uint16Array [n*k]): copies the stored bits back out.
napi_value Read(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!args(env, info, 2, argv)) return nullptr;
  const W16Weight* w = handle(env, argv[0]);
  if (w == nullptr) return nullptr;
  uint16_t* bits = nullptr;
  size_t len = 0;
  if (!u16array(env, argv[1], &bits, &len) || len != static_cast<size_t>(w->n) * w->k) return fail(env, "polyglot native: w16Read expects Uint16Array[n*k]");
  std::memcpy(bits, w->w, len * 2);
  return nullptr;
}

napi_value Bytes(napi_env env, napi_callback_info) { return number(env, g_bytes); }

// w16Mode(name?): "bf16dot" (bf16 weights: activations rounded to bf16, vdpbf16ps; CPUs with
// AVX-512 BF16) or "float" (float32 activations, the default). Returns the mode in use.
napi_value Mode(napi_env env, napi_callback_info info) {
  const std::string want = napi::short_string(env, napi::optional_arg(env, info));
  if (want == "bf16dot") g_bf16dot = g_has_bf16;
  else if (want == "float") g_bf16dot = false;
  return string(env, g_bf16dot && g_host.isa() == 2 ? "bf16dot" : "float");
}

}  // namespace

void w16_forward(const W16Args& g) {
  const int isa = g_host.isa();
  ThreadPool& pool = g_host.pool();
  if (isa == 2 && g_bf16dot && g.w->kind == W16Kind::kBf16) w16_matmul_bf16dot(g, pool);
  else if (isa == 2) w16_matmul_avx512(g, pool);
  else w16_matmul_avx2(g, pool);
}

void w16_define(napi_env env, napi_value exports, W16Host host) {
  g_host = host;
  const napi_property_descriptor props[] = {
      {"w16Weight", nullptr, Weight, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"w16Matmul", nullptr, Matmul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"w16MatmulT", nullptr, MatmulT, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"w16Read", nullptr, Read, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"w16Bytes", nullptr, Bytes, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"w16Mode", nullptr, Mode, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}

}  // namespace polyglot
