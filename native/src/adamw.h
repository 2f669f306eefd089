// One fused AdamW update on the wasm heap (adamw.cc): the optimizer's ~13 element-wise
// tfjs kernels per parameter (each a full pass over memory, single-threaded) in one pass on
// every pool thread.
#pragma once
#define NAPI_VERSION 8
#include <node_api.h>

#include "thread_pool.h"

namespace polyglot {

// What the addon shares with the optimizer kernel: its thread pool.
struct AdamWHost {
  ThreadPool& (*pool)();
};

void adamw_define(napi_env env, napi_value exports, AdamWHost host);

}  // namespace polyglot
