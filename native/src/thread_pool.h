// A small fixed pool of worker threads for data-parallel loops. The calling thread
// takes tasks too, so `threads` = 2 means the caller plus one worker.
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

 private:
  void work(int index);
  void drain(int index);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable done_;
  Task fn_ = nullptr;
  void* ctx_ = nullptr;
  long tasks_ = 0;
  std::atomic<long> next_{0};
  long generation_ = 0;
  int busy_ = 0;
  bool stop_ = false;
};

}  // namespace polyglot
