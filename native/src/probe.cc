// A STREAM-like read probe: the memory bandwidth the machine gives a pass over a buffer
// much larger than the caches, with every pool thread reading its share (what an int8
// GEMV can at best achieve, since it streams its weights once). Benches report it beside
// the kernels' achieved bytes/s.
#include <immintrin.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "probe.h"

namespace polyglot {
namespace {

constexpr long kChunk = 1L << 20;  // bytes per task

struct ProbeArgs {
  const uint8_t* data;
  long bytes;
  bool avx512;
  int64_t sums[64];
};

__attribute__((target("avx512f,avx512bw"))) int64_t sum512(const uint8_t* p, long n) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  const __m512i zero = _mm512_setzero_si512();
  long i = 0;
  for (; i + 256 <= n; i += 256) {
    a0 = _mm512_add_epi64(a0, _mm512_sad_epu8(_mm512_load_si512(p + i), zero));
    a1 = _mm512_add_epi64(a1, _mm512_sad_epu8(_mm512_load_si512(p + i + 64), zero));
    a2 = _mm512_add_epi64(a2, _mm512_sad_epu8(_mm512_load_si512(p + i + 128), zero));
    a3 = _mm512_add_epi64(a3, _mm512_sad_epu8(_mm512_load_si512(p + i + 192), zero));
  }
  return _mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3)));
}

__attribute__((target("avx2"))) int64_t sum256(const uint8_t* p, long n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0;
  const __m256i zero = _mm256_setzero_si256();
  long i = 0;
  for (; i + 64 <= n; i += 64) {
    a0 = _mm256_add_epi64(a0, _mm256_sad_epu8(_mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)), zero));
    a1 = _mm256_add_epi64(a1, _mm256_sad_epu8(_mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)), zero));
  }
  alignas(32) int64_t s[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(s), _mm256_add_epi64(a0, a1));
  return s[0] + s[1] + s[2] + s[3];
}

void probe_task(void* vargs, long t, int thread) {
  auto& a = *static_cast<ProbeArgs*>(vargs);
  const long off = t * kChunk;
  const long n = off + kChunk <= a.bytes ? kChunk : a.bytes - off;
  a.sums[thread] += a.avx512 ? sum512(a.data + off, n) : sum256(a.data + off, n);
}

}  // namespace

double stream_read_gbs(long bytes, int reps, bool avx512, ThreadPool& pool) {
  bytes = (bytes + kChunk - 1) / kChunk * kChunk;
  auto* data = static_cast<uint8_t*>(std::aligned_alloc(64, static_cast<size_t>(bytes)));
  if (data == nullptr) return 0;
  std::memset(data, 1, static_cast<size_t>(bytes));
  ProbeArgs a{data, bytes, avx512, {0}};
  double best = 0;
  for (int r = 0; r < reps + 1; r++) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.run(bytes / kChunk, probe_task, &a);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0 && bytes / s / 1e9 > best) best = bytes / s / 1e9;  // the first pass warms up
  }
  std::free(data);
  return best;
}

}  // namespace polyglot
