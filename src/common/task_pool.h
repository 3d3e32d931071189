#pragma once
// A small bounded pool of worker threads for batches of blocking tasks (the sampler's queries of
// one round).
//
// Contract:
// - TaskPool(n) with n >= 2 starts n worker threads once; they live until the destructor, which
//   waits for the batch under way and joins them. n <= 1 starts none.
// - RunAll(tasks) runs every task and returns once all have returned: on the workers, at most n at
//   once, taken in the order given; with no workers, or a single task, one after another on the
//   caller's thread. Tasks must not throw and must not call RunAll.
// - One batch at a time: RunAll is called from one thread (the pool's owner).

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace aa {

class TaskPool {
 public:
  explicit TaskPool(int threads);
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  void RunAll(std::vector<std::function<void()>> tasks);

  // Worker threads started (0 when tasks run on the caller's thread).
  size_t threads() const { return workers_.size(); }

 private:
  void Work();

  std::mutex mu_;
  std::condition_variable work_cv_;  // wakes workers: a batch arrived, or stopping
  std::condition_variable done_cv_;  // wakes RunAll: the batch finished
  std::vector<std::function<void()>> batch_;
  size_t next_ = 0;     // the next task of batch_ to take
  size_t running_ = 0;  // tasks of batch_ taken and not finished
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace aa
