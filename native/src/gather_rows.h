// Embedding lookups from a table held in native memory as a 16-bit linear
// weight (gather_rows.cc).
#pragma once
#define NAPI_VERSION 8
#include <node_api.h>

namespace polyglot {

void gather_rows_define(napi_env env, napi_value exports);

}  // namespace polyglot
