// N-API entry points of the 16-bit-weight kernels (w16_napi.cc), added to the addon's exports.
#pragma once
#define NAPI_VERSION 8
#include <node_api.h>

#include "thread_pool.h"

namespace polyglot {

// What the addon shares with them: its thread pool and the instruction set in use
// (0 none, 1 AVX2, 2 AVX-512; setIsa changes it).
struct W16Host {
  ThreadPool& (*pool)();
  int (*isa)();
};

void w16_define(napi_env env, napi_value exports, W16Host host);

struct W16Args;
// The forward 16-bit product in the mode and instruction set in use (after w16_define; isa != 0).
void w16_forward(const W16Args& g);

}  // namespace polyglot
