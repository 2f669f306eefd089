// One pre-norm residual sub-block of a decode step as a single native call (decode_block.cc):
//   out = h + sublayer(LayerNorm(h))
// with the sublayer self-attention (q/k/v projections, the fused attention appending the new
// keys/values to the cache buffer in place, out projection), cross-attention (q and out
// projections, keys/values from the cache) or the dense FFN (fc1, activation, fc2). The same
// kernels the separate wasm-backend kernels call, in the same order, so the numbers are the
// same; what goes away is a tfjs dispatch per operation (about 12 per decoder layer).
#pragma once
#define NAPI_VERSION 8
#include <node_api.h>

#include "thread_pool.h"

namespace polyglot {

struct Q8Args;
struct W16Args;
struct GemmArgs;

// What the addon shares: its pool, the instruction set in use (0 none, 1 AVX2, 2 AVX-512) and
// the forward products in the modes in use.
struct DecodeBlockHost {
  ThreadPool& (*pool)();
  int (*isa)();
  void (*q8)(const Q8Args&);
  void (*q8_batch)(const Q8Args*, int);
  void (*w16)(const W16Args&);
  void (*f32)(const GemmArgs&);
};

void decode_block_define(napi_env env, napi_value exports, DecodeBlockHost host);

}  // namespace polyglot
