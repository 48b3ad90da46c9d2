#include "server/inflight_budget.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rnnserve::server {
namespace {

using ::testing::HasSubstr;

TEST(InflightBudgetTest, ReservesUpToTheLimitAndRefusesPastItWithResourceExhausted) {
  InflightBudget budget(100);
  absl::StatusOr<InflightBudget::Reservation> first = budget.Reserve(60);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<InflightBudget::Reservation> second = budget.Reserve(40);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(budget.used_bytes(), 100);
  const absl::StatusOr<InflightBudget::Reservation> third = budget.Reserve(1);
  EXPECT_TRUE(absl::IsResourceExhausted(third.status())) << third.status();
  EXPECT_THAT(third.status().message(), HasSubstr("100 of its 100 bytes"));
  EXPECT_EQ(budget.used_bytes(), 100);  // a refusal reserves nothing
}

TEST(InflightBudgetTest, MoreThanTheWholeBudgetIsInvalidArgumentEvenWhenIdle) {
  InflightBudget budget(100);
  const absl::StatusOr<InflightBudget::Reservation> huge = budget.Reserve(101);
  EXPECT_TRUE(absl::IsInvalidArgument(huge.status())) << huge.status();
  EXPECT_THAT(huge.status().message(), HasSubstr("--max_inflight_bytes"));
  EXPECT_EQ(budget.used_bytes(), 0);
}

TEST(InflightBudgetTest, ReleaseDestructionAndMovesGiveTheBytesBackExactlyOnce) {
  InflightBudget budget(100);
  {
    absl::StatusOr<InflightBudget::Reservation> held = budget.Reserve(30);
    ASSERT_TRUE(held.ok());
    InflightBudget::Reservation moved = *std::move(held);
    EXPECT_EQ(moved.bytes(), 30);
    EXPECT_EQ(budget.used_bytes(), 30);
    moved.Release();
    moved.Release();  // the second does nothing
    EXPECT_EQ(budget.used_bytes(), 0);
    InflightBudget::Reservation other = *budget.Reserve(20);
    InflightBudget::Reservation target = *budget.Reserve(10);
    target = std::move(other);  // gives back the 10 it held
    EXPECT_EQ(budget.used_bytes(), 20);
  }
  EXPECT_EQ(budget.used_bytes(), 0);  // destroyed
}

TEST(InflightBudgetTest, ConcurrentReservationsNeverHoldMoreThanTheLimit) {
  constexpr int64_t kLimit = 1000;
  InflightBudget budget(kLimit);
  std::atomic<int64_t> most{0};
  std::atomic<int64_t> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20'000; ++i) {
        absl::StatusOr<InflightBudget::Reservation> held = budget.Reserve(100 + 50 * t);
        if (!held.ok()) {
          ++refused;
          continue;
        }
        int64_t used = budget.used_bytes();
        int64_t seen = most.load();
        while (used > seen && !most.compare_exchange_weak(seen, used)) {
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_LE(most.load(), kLimit);
  EXPECT_EQ(budget.used_bytes(), 0);
}

}  // namespace
}  // namespace rnnserve::server
