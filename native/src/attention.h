// Fused multi-head attention for decode-sized steps (attention_avx2.cc): for every (batch, head)
// softmax(clamp(q kᵀ * scale + mask, finfo.min)) v, with the step's new keys/values first written
// into a key/value buffer that has spare rows (append in place, no copy of the cache).
#pragma once

#include "thread_pool.h"

namespace polyglot {

struct AttentionArgs {
  const float* q;      // [b, tq, heads * hd], not yet scaled
  const float* k_new;  // [b, tq, heads * hd] or null (cross-attention: nothing to append)
  const float* v_new;  // likewise
  float* k;            // [b, heads, cap, hd]: rows [0, len) in use, new rows written at [len, len + tq)
  float* v;            // likewise
  const float* mask;   // additive [mb, mh, mq, tk] (mb in {1, b}, mh in {1, heads}, mq in {1, tq}) or null
  float* out;          // [b, tq, heads * hd]
  long b, tq, heads, hd, len, cap, mb, mh, mq;
  float scale;
};

// Keys attended: len + tq with new rows, else len.
inline long attention_keys(const AttentionArgs& a) { return a.len + (a.k_new != nullptr ? a.tq : 0); }

void attention_avx2(const AttentionArgs& a, ThreadPool& pool);

}  // namespace polyglot
