// Memory-bandwidth probe (probe.cc).
#pragma once
#include "thread_pool.h"

namespace polyglot {

// Best GB/s of `reps` read passes over a fresh `bytes` buffer split across the pool.
double stream_read_gbs(long bytes, int reps, bool avx512, ThreadPool& pool);

}  // namespace polyglot
