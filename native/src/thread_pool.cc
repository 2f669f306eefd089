#include "thread_pool.h"

#include <chrono>
#include <cstdlib>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define POLYGLOT_PAUSE() _mm_pause()
#else
#define POLYGLOT_PAUSE() std::this_thread::yield()
#endif

namespace polyglot {

ThreadPool::ThreadPool(int threads) {
  const char* spin = std::getenv("POLYGLOT_NATIVE_SPIN_US");
  if (spin != nullptr && *spin != '\0') spin_ns_ = std::atol(spin) < 0 ? 0 : std::atol(spin) * 1000L;
  for (int i = 1; i < threads; i++) workers_.emplace_back([this, i] { work(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::drain(int index, Task fn, void* ctx, long tasks) {
  for (;;) {
    const long t = next_.fetch_add(1, std::memory_order_relaxed);
    if (t >= tasks) return;
    fn(ctx, t, index);
  }
}

void ThreadPool::work(int index) {
  long seen = 0;
  for (;;) {
    // Spin a while for the next job before sleeping (no syscall on either side).
    if (spin_ns_ > 0 && generation_.load(std::memory_order_acquire) == seen) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(spin_ns_);
      for (int i = 0; generation_.load(std::memory_order_acquire) == seen; i++) {
        POLYGLOT_PAUSE();
        if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) break;
      }
    }
    Task fn;
    void* ctx;
    long tasks;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (!stop_ && generation_.load(std::memory_order_relaxed) == seen) {
        sleepers_++;
        wake_.wait(lock, [&] { return stop_ || generation_.load(std::memory_order_relaxed) != seen; });
        sleepers_--;
      }
      if (stop_) return;
      // The newest job: one published while this worker slept through an earlier one
      // replaces it (the earlier one was finished by the threads that were awake).
      seen = generation_.load(std::memory_order_relaxed);
      fn = fn_;
      ctx = ctx_;
      tasks = tasks_;
      active_.fetch_add(1, std::memory_order_relaxed);
    }
    drain(index, fn, ctx, tasks);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (active_.fetch_sub(1, std::memory_order_release) == 1 && caller_waits_) done_.notify_one();
    }
  }
}

void ThreadPool::run(long tasks, Task fn, void* ctx) {
  if (tasks <= 0) return;
  if (workers_.empty() || tasks == 1) {
    for (long t = 0; t < tasks; t++) fn(ctx, t, 0);
    return;
  }
  bool notify;
  {
    std::unique_lock<std::mutex> lock(mu_);
    // A worker that woke late for the previous job may still be leaving it (it claims
    // nothing, but reads next_): wait until it has.
    wait_idle(lock);
    fn_ = fn;
    ctx_ = ctx;
    tasks_ = tasks;
    next_.store(0, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    notify = sleepers_ > 0;
  }
  if (notify) wake_.notify_all();
  drain(0, fn, ctx, tasks);
  // Only workers that joined this job can hold one of its tasks.
  std::unique_lock<std::mutex> lock(mu_, std::defer_lock);
  wait_idle(lock);
}

void ThreadPool::wait_idle(std::unique_lock<std::mutex>& lock) {
  if (lock.owns_lock()) lock.unlock();
  if (spin_ns_ > 0 && active_.load(std::memory_order_acquire) != 0) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(spin_ns_);
    for (int i = 0; active_.load(std::memory_order_acquire) != 0; i++) {
      POLYGLOT_PAUSE();
      if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) break;
    }
  }
  lock.lock();
  if (active_.load(std::memory_order_relaxed) != 0) {
    caller_waits_ = true;
    done_.wait(lock, [&] { return active_.load(std::memory_order_relaxed) == 0; });
    caller_waits_ = false;
  }
}

void ThreadPool::run_sized(long tasks, Task fn, void* ctx, double work) {
  if (work < kMinParallelWork) {
    for (long t = 0; t < tasks; t++) fn(ctx, t, 0);
    return;
  }
  run(tasks, fn, ctx);
}

}  // namespace polyglot
