// N-API entry points of the fused LayerNorm / GELU kernels (norm_napi.cc), added to the
// addon's exports.
#pragma once
#define NAPI_VERSION 8
#include <node_api.h>

#include "thread_pool.h"

namespace polyglot {

// What the addon shares with them: its thread pool and the instruction set in use (0 none).
struct NormHost {
  ThreadPool& (*pool)();
  int (*isa)();
};

void norm_define(napi_env env, napi_value exports, NormHost host);

}  // namespace polyglot
