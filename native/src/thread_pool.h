// A small fixed pool of worker threads for data-parallel loops. The calling thread
// takes tasks too, so `threads` = 2 means the caller plus one worker.
//
// Decode-sized jobs are short (tens of microseconds) and come every few tens of
// microseconds, so the pool is built for latency:
//  - a caller waits only for tasks that were claimed, never for a worker that has not
//    woken up yet (on a loaded machine that wake-up can take milliseconds: the caller
//    then simply does all the tasks itself);
//  - after a job a worker spins on the job counter for a while (POLYGLOT_NATIVE_SPIN_US,
//    default 200 microseconds; 0 = sleep at once) before sleeping on the condition
//    variable, so back-to-back jobs need no futex wake-up;
//  - likewise the caller, when it runs out of tasks before a worker finishes its last one,
//    spins for the job's end before sleeping: a futex sleep and wake-up there cost tens of
//    microseconds in a VM, more than most decode GEMVs' whole tail.
//  - `wait_idle` is the one place that waits for the workers to leave a job.
#pragma once
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace polyglot {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return static_cast<int>(workers_.size()) + 1; }
  // A task body: fn(ctx, task, thread_index). A plain function pointer (no std::function)
  // so no shared template code is compiled with an ISA-specific target.
  using Task = void (*)(void* ctx, long task, int thread);
  // Runs fn for task in [0, tasks); returns when all are done.
  void run(long tasks, Task fn, void* ctx);
  // As run, on the calling thread alone when `work` (multiply-adds or bytes streamed) is
  // below kMinParallelWork: waking a worker costs more than such a job.
  void run_sized(long tasks, Task fn, void* ctx, double work);
  static constexpr double kMinParallelWork = 32768;

 private:
  void work(int index);
  // Returns (with `lock` held) once no worker is inside a job: spins first, then sleeps.
  void wait_idle(std::unique_lock<std::mutex>& lock);
  void drain(int index, Task fn, void* ctx, long tasks);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable done_;
  // The published job (written under mu_, read by workers under mu_).
  Task fn_ = nullptr;
  void* ctx_ = nullptr;
  long tasks_ = 0;
  std::atomic<long> next_{0};
  // Bumped (under mu_) for every job; workers spin on it before sleeping.
  std::atomic<long> generation_{0};
  // Workers inside a job (changed under mu_; the caller also reads it without the lock while
  // it spins for the job's end).
  std::atomic<int> active_{0};
  int sleepers_ = 0;        // workers waiting on wake_ (under mu_)
  bool caller_waits_ = false;  // the caller sleeps on done_ (under mu_): only then is it notified
  long spin_ns_ = 200000;
  bool stop_ = false;
};

}  // namespace polyglot
