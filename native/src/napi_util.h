// N-API argument helpers shared by the addon's entry points (addon.cc, w16_napi.cc, adamw.cc, norm_napi.cc,
// gather_rows.cc, attention_napi.cc): each failure throws a JS error and returns
// nullptr / false, which the entry point returns at once.
#pragma once
#define NAPI_VERSION 8
#include <node_api.h>

#include <cstddef>
#include <string>

namespace polyglot {
namespace napi {

inline napi_value fail(napi_env env, const char* msg) {
  napi_throw_error(env, nullptr, msg);
  return nullptr;
}

inline napi_value fail(napi_env env, const std::string& msg) { return fail(env, msg.c_str()); }

// The first `want` arguments (false after throwing when fewer were passed).
inline bool args(napi_env env, napi_callback_info info, size_t want, napi_value* argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < want) {
    napi_throw_type_error(env, nullptr, "polyglot native: wrong number of arguments");
    return false;
  }
  return true;
}

inline double num(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return d;
}

inline bool flag(napi_env env, napi_value v) {
  bool b = false;
  napi_get_value_bool(env, v, &b);
  return b;
}

inline napi_value number(napi_env env, double d) {
  napi_value out;
  napi_create_double(env, d, &out);
  return out;
}

inline napi_value string(napi_env env, const char* s) {
  napi_value out;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &out);
  return out;
}

// A short string argument (a mode or ISA name; at most 15 bytes), or "" when `v` is absent.
inline std::string short_string(napi_env env, napi_value v) {
  if (v == nullptr) return "";
  char buf[16] = {0};
  size_t len = 0;
  napi_get_value_string_utf8(env, v, buf, sizeof buf, &len);
  return std::string(buf, len);
}

// The first argument when one was passed (modes: no argument = ask which is in use).
inline napi_value optional_arg(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {nullptr};
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  return argc >= 1 ? argv[0] : nullptr;
}

// A typed array of `type` (no throw: callers name what they expected).
inline bool typed(napi_env env, napi_value v, napi_typedarray_type type, void** data, size_t* len) {
  bool is_ta = false;
  napi_typedarray_type found;
  napi_is_typedarray(env, v, &is_ta);
  if (!is_ta || napi_get_typedarray_info(env, v, &found, len, data, nullptr, nullptr) != napi_ok || found != type) return false;
  return true;
}

// A Float64Array of exactly `want` values (offset and dimension lists; no throw: callers name what they expected).
inline bool f64array(napi_env env, napi_value v, size_t want, const double** data) {
  void* p = nullptr;
  size_t len = 0;
  if (!typed(env, v, napi_float64_array, &p, &len) || len != want) return false;
  *data = static_cast<const double*>(p);
  return true;
}

// The wasm heap's ArrayBuffer (throws when it is not one).
inline bool heap(napi_env env, napi_value v, void** data, size_t* bytes) {
  bool is_ab = false;
  napi_is_arraybuffer(env, v, &is_ab);
  if (!is_ab || napi_get_arraybuffer_info(env, v, data, bytes) != napi_ok || *data == nullptr) {
    napi_throw_type_error(env, nullptr, "polyglot native: expected the wasm heap's ArrayBuffer");
    return false;
  }
  return true;
}

// Type tags on the weight handles (externals): a handle of one kind passed where another is
// expected is a thrown error, not a reinterpreted pointer.
inline constexpr napi_type_tag kQ8WeightTag = {0x506f6c79676c6f74ULL, 0x0000000071387765ULL};
inline constexpr napi_type_tag kW16WeightTag = {0x506f6c79676c6f74ULL, 0x0000007731367765ULL};

// A new external for `data` (finalized by `free`), tagged with `tag`.
inline napi_value tagged_external(napi_env env, void* data, napi_finalize free, const napi_type_tag& tag) {
  napi_value out;
  napi_create_external(env, data, free, nullptr, &out);
  napi_type_tag_object(env, out, &tag);
  return out;
}

// The pointer of an external tagged `tag`, or nullptr (no throw) when `v` is anything else.
inline void* external_of(napi_env env, napi_value v, const napi_type_tag& tag) {
  napi_valuetype vt;
  bool tagged = false;
  void* p = nullptr;
  if (napi_typeof(env, v, &vt) != napi_ok || vt != napi_external || napi_check_object_type_tag(env, v, &tag, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, v, &p) != napi_ok)
    return nullptr;
  return p;
}

}  // namespace napi
}  // namespace polyglot
