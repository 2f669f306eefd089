// N-API entry point of the fused attention kernel (attention_napi.cc), added to the addon's exports.
#pragma once
#define NAPI_VERSION 8
#include <node_api.h>

#include "thread_pool.h"

namespace polyglot {

// What the addon shares with it: its thread pool and the instruction set in use (0 none, 1 AVX2, 2 AVX-512).
struct AttentionHost {
  ThreadPool& (*pool)();
  int (*isa)();
};

void attention_define(napi_env env, napi_value exports, AttentionHost host);

}  // namespace polyglot
