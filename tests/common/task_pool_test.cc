#include "common/task_pool.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace aa {
namespace {

TEST(TaskPoolTest, OneThreadRunsTasksInOrderOnTheCaller) {
  TaskPool pool(1);
  EXPECT_EQ(pool.threads(), 0u);
  std::vector<int> order;
  std::vector<std::thread::id> ids;
  std::vector<std::function<void()>> tasks;
  for (int i = 0; i < 5; ++i) {
    tasks.push_back([&, i] {
      order.push_back(i);
      ids.push_back(std::this_thread::get_id());
    });
  }
  pool.RunAll(std::move(tasks));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  for (auto id : ids) EXPECT_EQ(id, std::this_thread::get_id());
}

// Every task blocks until `limit` run at once (proving they overlap), and the pool never runs
// more than its threads at once.
TEST(TaskPoolTest, RunsUpToItsThreadsAtOnceAndNeverMore) {
  constexpr int kThreads = 3;
  TaskPool pool(kThreads);
  EXPECT_EQ(pool.threads(), size_t{kThreads});
  for (int batch = 0; batch < 3; ++batch) {  // the workers serve batch after batch
    std::mutex mu;
    std::condition_variable cv;
    int running = 0;
    int peak = 0;
    int first_wave = 0;  // tasks that waited for a full pool
    std::atomic<int> done{0};
    std::vector<std::function<void()>> tasks;
    for (int i = 0; i < 10; ++i) {
      tasks.push_back([&] {
        std::unique_lock lock(mu);
        ++running;
        peak = std::max(peak, running);
        if (first_wave < kThreads) {
          ++first_wave;
          cv.notify_all();
          cv.wait(lock, [&] { return first_wave == kThreads; });
        }
        --running;
        ++done;
      });
    }
    pool.RunAll(std::move(tasks));
    EXPECT_EQ(done.load(), 10);
    EXPECT_EQ(peak, kThreads);
    EXPECT_EQ(running, 0);
  }
}

TEST(TaskPoolTest, EmptyBatchAndDestructorWithIdleWorkers) {
  TaskPool pool(4);
  pool.RunAll({});
  int ran = 0;
  pool.RunAll({[&] { ++ran; }});
  EXPECT_EQ(ran, 1);
}

}  // namespace
}  // namespace aa
