#include "util/batch_scheduling.h"

#include <sched.h>

#include <thread>

#include "gtest/gtest.h"

namespace rnnserve::util {
namespace {

// On a thread of its own, so the test binary's main thread keeps its policy
// (whatever the test was started with: SCHED_OTHER, or SCHED_BATCH under
// `chrt --batch`).
TEST(BatchSchedulingTest, TheCallingThreadAndTheThreadsItStartsRunUnderSchedBatch) {
  const int inherited = sched_getscheduler(0);
  int before = -1, after = -1, started = -1;
  absl::Status status;
  std::thread([&] {
    before = sched_getscheduler(0);
    status = UseBatchScheduling();
    after = sched_getscheduler(0);
    std::thread([&] { started = sched_getscheduler(0); }).join();
  }).join();
  EXPECT_EQ(before, inherited);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(after, SCHED_BATCH);
  EXPECT_EQ(started, SCHED_BATCH);
  EXPECT_EQ(sched_getscheduler(0), inherited);
}

}  // namespace
}  // namespace rnnserve::util
