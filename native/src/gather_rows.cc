// w16GatherRows(heap, weight, idsOffset, count, outOffset, multiplier): the embedding lookup
// from a table kept only in native memory as a 16-bit weight [vocab, d] (w16.h: one row a
// token, as a tied output projection stores it): out[i, :] = widen(row(ids[i])) * multiplier
// (as tfjs' gather then mul on the float table). Offsets:
// idsOffset counts int32s, outOffset floats. An id outside [0, n) is an error naming it.
#include "gather_rows.h"
#include "napi_util.h"

#include <cstdint>
#include <cstring>
#include <string>

#include "w16.h"

namespace polyglot {
namespace {

using napi::fail;

float widen(uint16_t h, W16Kind kind) {
  if (kind == W16Kind::kBf16) {
    const uint32_t bits = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  // IEEE half -> float, exact (no F16C needed for a lookup).
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {
    // Subnormal half: normalise.
    exp = 113;
    while ((mant & 0x400) == 0) {
      mant <<= 1;
      exp--;
    }
    bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

struct Call {
  const int32_t* ids = nullptr;
  float* out = nullptr;
  long count = 0;
  float multiplier = 1;
  void* weight = nullptr;
};

// Parses the shared arguments; false after throwing.
bool parse(napi_env env, napi_callback_info info, Call* c, long* n, long* k, void** handle_out) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 6) {
    fail(env, "polyglot native: gatherRows expects (heap, weight, idsOffset, count, outOffset, multiplier)");
    return false;
  }
  void* heap = nullptr;
  size_t bytes = 0;
  if (!napi::heap(env, argv[0], &heap, &bytes)) return false;
  napi_valuetype vt;
  napi_typeof(env, argv[1], &vt);
  if (vt != napi_external || napi_get_value_external(env, argv[1], handle_out) != napi_ok) {
    fail(env, "polyglot native: gatherRows expects a weight handle");
    return false;
  }
  const double ids_off = napi::num(env, argv[2]), count = napi::num(env, argv[3]), out_off = napi::num(env, argv[4]), mult = napi::num(env, argv[5]);
  const double words = static_cast<double>(bytes) / 4;
  if (!(ids_off >= 0 && count >= 0 && out_off >= 0) || ids_off + count > words || out_off + count * static_cast<double>(*k) > words) {
    fail(env, "polyglot native: gatherRows offsets outside the heap");
    return false;
  }
  c->ids = static_cast<const int32_t*>(heap) + static_cast<long>(ids_off);
  c->out = static_cast<float*>(heap) + static_cast<long>(out_off);
  c->count = static_cast<long>(count);
  c->multiplier = static_cast<float>(mult);
  for (long i = 0; i < c->count; i++) {
    if (c->ids[i] < 0 || c->ids[i] >= *n) {
      fail(env, "embedding lookup: token id " + std::to_string(c->ids[i]) + " is outside the vocabulary [0, " + std::to_string(*n) + ")");
      return false;
    }
  }
  return true;
}

napi_value W16GatherRows(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  void* h = nullptr;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 2) return fail(env, "polyglot native: w16GatherRows: missing arguments");
  napi_get_value_external(env, argv[1], &h);
  if (h == nullptr) return fail(env, "polyglot native: w16GatherRows expects a 16-bit weight");
  const W16Weight* w = static_cast<const W16Weight*>(h);
  long n = w->n, k = w->k;
  Call c;
  if (!parse(env, info, &c, &n, &k, &c.weight)) return nullptr;
  for (long i = 0; i < c.count; i++) {
    const uint16_t* row = w->w + static_cast<long>(c.ids[i]) * k;
    float* o = c.out + i * k;
    for (long j = 0; j < k; j++) {
      const float v = widen(row[j], w->kind);
      o[j] = c.multiplier == 1.0f ? v : v * c.multiplier;
    }
  }
  return nullptr;
}

}  // namespace

void gather_rows_define(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"w16GatherRows", nullptr, W16GatherRows, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}

}  // namespace polyglot
