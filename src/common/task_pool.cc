#include "common/task_pool.h"

#include <utility>

namespace aa {

TaskPool::TaskPool(int threads) {
  if (threads < 2) return;
  workers_.reserve(static_cast<size_t>(threads));
  for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { Work(); });
}

TaskPool::~TaskPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void TaskPool::RunAll(std::vector<std::function<void()>> tasks) {
  if (workers_.empty() || tasks.size() <= 1) {
    for (auto& task : tasks) task();
    return;
  }
  std::unique_lock lock(mu_);
  batch_ = std::move(tasks);
  next_ = 0;
  running_ = 0;
  work_cv_.notify_all();
  done_cv_.wait(lock, [this] { return next_ == batch_.size() && running_ == 0; });
  batch_.clear();
  next_ = 0;
}

void TaskPool::Work() {
  std::unique_lock lock(mu_);
  while (true) {
    work_cv_.wait(lock, [this] { return stopping_ || next_ < batch_.size(); });
    if (next_ < batch_.size()) {
      std::function<void()>& task = batch_[next_++];
      ++running_;
      lock.unlock();
      task();
      lock.lock();
      --running_;
      if (next_ == batch_.size() && running_ == 0) done_cv_.notify_all();
      continue;
    }
    return;  // stopping, nothing left
  }
}

}  // namespace aa
