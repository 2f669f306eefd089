// layerNorm / layerNormGrad / gelu / geluGrad (norm.h) on the wasm heap: float offsets into the
// heap's ArrayBuffer, every operand bounds-checked before a kernel runs.
#include "norm_napi.h"

#include "napi_util.h"
#include "norm.h"

namespace polyglot {
namespace {

NormHost g_host{};

using napi::fail;

// Reads `want` arguments: argv[0] the heap (its data and size in floats), the rest numbers.
bool heap_args(napi_env env, napi_callback_info info, size_t want, float** heap, double* floats, double* nums) {
  napi_value argv[12];
  if (want > 12 || !napi::args(env, info, want, argv)) return false;
  if (g_host.isa() == 0) {
    napi_throw_error(env, nullptr, "polyglot native: this CPU has neither AVX2 nor AVX-512");
    return false;
  }
  void* p = nullptr;
  size_t bytes = 0;
  if (!napi::heap(env, argv[0], &p, &bytes)) return false;
  *heap = static_cast<float*>(p);
  *floats = static_cast<double>(bytes / sizeof(float));
  for (size_t i = 1; i < want; i++) {
    if (napi_get_value_double(env, argv[i], &nums[i - 1]) != napi_ok) {
      napi_throw_type_error(env, nullptr, "polyglot native: expected numbers after the heap");
      return false;
    }
  }
  return true;
}

// [offset, offset + len) lies inside the heap.
bool inside(double offset, double len, double floats) { return offset >= 0 && len >= 0 && offset + len <= floats; }

// layerNorm(heap, xOffset, gammaOffset, betaOffset, yOffset, rows, d, eps)
napi_value LayerNorm(napi_env env, napi_callback_info info) {
  float* heap = nullptr;
  double floats = 0, a[7];
  if (!heap_args(env, info, 8, &heap, &floats, a)) return nullptr;
  const double rows = a[4], d = a[5];
  if (!(rows >= 0 && d >= 1) || !inside(a[0], rows * d, floats) || !inside(a[1], d, floats) || !inside(a[2], d, floats) ||
      !inside(a[3], rows * d, floats))
    return fail(env, "polyglot native: layerNorm operand outside the heap");
  LayerNormArgs g{heap + static_cast<long>(a[0]), heap + static_cast<long>(a[1]), heap + static_cast<long>(a[2]),
                  heap + static_cast<long>(a[3]), static_cast<long>(rows), static_cast<long>(d), static_cast<float>(a[6])};
  layer_norm_avx2(g, g_host.pool());
  return nullptr;
}

// layerNormGrad(heap, xOffset, gammaOffset, dyOffset, dxOffset, dgammaOffset, dbetaOffset, rows, d, eps)
napi_value LayerNormGrad(napi_env env, napi_callback_info info) {
  float* heap = nullptr;
  double floats = 0, a[9];
  if (!heap_args(env, info, 10, &heap, &floats, a)) return nullptr;
  const double rows = a[6], d = a[7];
  if (!(rows >= 0 && d >= 1) || !inside(a[0], rows * d, floats) || !inside(a[1], d, floats) || !inside(a[2], rows * d, floats) ||
      !inside(a[3], rows * d, floats) || !inside(a[4], d, floats) || !inside(a[5], d, floats))
    return fail(env, "polyglot native: layerNormGrad operand outside the heap");
  LayerNormGradArgs g{heap + static_cast<long>(a[0]), heap + static_cast<long>(a[1]), heap + static_cast<long>(a[2]),
                      heap + static_cast<long>(a[3]), heap + static_cast<long>(a[4]), heap + static_cast<long>(a[5]),
                      static_cast<long>(rows),        static_cast<long>(d),           static_cast<float>(a[8])};
  layer_norm_grad_avx2(g, g_host.pool());
  return nullptr;
}

// gelu(heap, xOffset, yOffset, n, kind (0 erf, 1 tanh), c)
napi_value Gelu(napi_env env, napi_callback_info info) {
  float* heap = nullptr;
  double floats = 0, a[5];
  if (!heap_args(env, info, 6, &heap, &floats, a)) return nullptr;
  const double n = a[2];
  if (!inside(a[0], n, floats) || !inside(a[1], n, floats) || (a[3] != 0 && a[3] != 1))
    return fail(env, "polyglot native: gelu operand outside the heap or kind not 0 (erf) / 1 (tanh)");
  GeluArgs g{heap + static_cast<long>(a[0]), nullptr, heap + static_cast<long>(a[1]), static_cast<long>(n),
             static_cast<GeluKind>(static_cast<int>(a[3])), static_cast<float>(a[4])};
  gelu_avx2(g, g_host.pool());
  return nullptr;
}

// geluGrad(heap, xOffset, dyOffset, dxOffset, n, kind, c): dx = dy * gelu'(x)
napi_value GeluGrad(napi_env env, napi_callback_info info) {
  float* heap = nullptr;
  double floats = 0, a[6];
  if (!heap_args(env, info, 7, &heap, &floats, a)) return nullptr;
  const double n = a[3];
  if (!inside(a[0], n, floats) || !inside(a[1], n, floats) || !inside(a[2], n, floats) || (a[4] != 0 && a[4] != 1))
    return fail(env, "polyglot native: geluGrad operand outside the heap or kind not 0 (erf) / 1 (tanh)");
  GeluArgs g{heap + static_cast<long>(a[0]), heap + static_cast<long>(a[1]), heap + static_cast<long>(a[2]), static_cast<long>(n),
             static_cast<GeluKind>(static_cast<int>(a[4])), static_cast<float>(a[5])};
  gelu_grad_avx2(g, g_host.pool());
  return nullptr;
}

}  // namespace

void norm_define(napi_env env, napi_value exports, NormHost host) {
  g_host = host;
  const napi_property_descriptor props[] = {
      {"layerNorm", nullptr, LayerNorm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"layerNormGrad", nullptr, LayerNormGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gelu", nullptr, Gelu, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"geluGrad", nullptr, GeluGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}

}  // namespace polyglot
