// TaskPool: tasks run in submission order, the queue bound refuses with
// RESOURCE_EXHAUSTED (what the whole-sequence RPC returns when 1024 wait),
// Shutdown() runs what was queued and refuses the rest with UNAVAILABLE,
// and every thread takes work. Waits are bounded: a broken pool fails, it
// never hangs the suite.
#include "server/task_pool.h"

#include <atomic>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace rnnserve::server {
namespace {

constexpr absl::Duration kPatience = absl::Seconds(30);

TEST(TaskPoolTest, OneThreadRunsTasksInSubmissionOrder) {
  absl::Mutex mu;
  std::vector<int> order;
  TaskPool pool(1, 100);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(pool.Submit([&, i] {
                      absl::MutexLock lock(&mu);
                      order.push_back(i);
                    })
                    .ok());
  }
  pool.Shutdown();
  std::vector<int> want(50);
  for (int i = 0; i < 50; ++i) want[i] = i;
  EXPECT_EQ(order, want);
}

TEST(TaskPoolTest, AFullQueueRefusesWithResourceExhaustedAndShutdownRunsWhatWaits) {
  TaskPool pool(1, 2);
  absl::Notification started, release;
  std::atomic<int> runs = 0;
  ASSERT_TRUE(pool.Submit([&] {
                    started.Notify();
                    release.WaitForNotificationWithTimeout(kPatience);
                    ++runs;
                  })
                  .ok());
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(kPatience));
  // The only worker is busy: two may wait, the third is refused.
  ASSERT_TRUE(pool.Submit([&] { ++runs; }).ok());
  ASSERT_TRUE(pool.Submit([&] { ++runs; }).ok());
  bool refused_ran = false;
  const absl::Status full = pool.Submit([&] { refused_ran = true; });
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted) << full;
  release.Notify();
  pool.Shutdown();
  EXPECT_EQ(runs, 3);
  EXPECT_FALSE(refused_ran);
}

TEST(TaskPoolTest, AfterShutdownRefusesWithUnavailable) {
  TaskPool pool(2, 10);
  pool.Shutdown();
  bool ran = false;
  EXPECT_EQ(pool.Submit([&] { ran = true; }).code(), absl::StatusCode::kUnavailable);
  pool.Shutdown();  // again: nothing to do
  EXPECT_FALSE(ran);
}

TEST(TaskPoolTest, EveryThreadTakesWork) {
  constexpr int kThreads = 3;
  TaskPool pool(kThreads, 10);
  // Each task waits until all three run at once: only three threads can.
  absl::Mutex mu;
  int running = 0;
  std::atomic<int> saw_all = 0;
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_TRUE(pool.Submit([&] {
                      absl::MutexLock lock(&mu);
                      ++running;
                      const auto all = [&running] { return running == kThreads; };
                      if (mu.AwaitWithTimeout(absl::Condition(&all), kPatience)) ++saw_all;
                    })
                    .ok());
  }
  pool.Shutdown();
  EXPECT_EQ(saw_all, kThreads);
}

}  // namespace
}  // namespace rnnserve::server
