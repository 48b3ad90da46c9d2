#include "server/operation_gate.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"

namespace rnnserve::server {
namespace {

TEST(OperationGateTest, OpenGateAdmitsAndAClosedOneRefusesWithUnavailable) {
  OperationGate gate;
  ASSERT_TRUE(gate.Enter().ok());
  gate.Exit();
  EXPECT_TRUE(gate.CloseAndWait(absl::InfinitePast()));  // nothing in flight
  const absl::Status refused = gate.Enter();
  EXPECT_TRUE(absl::IsUnavailable(refused)) << refused;
}

TEST(OperationGateTest, CloseWaitsForTheOperationsInFlight) {
  OperationGate gate;
  ASSERT_TRUE(gate.Enter().ok());
  std::atomic<bool> exited{false};
  std::thread operation([&] {
    absl::SleepFor(absl::Milliseconds(50));
    exited = true;
    gate.Exit();
  });
  EXPECT_TRUE(gate.CloseAndWait(absl::InfiniteFuture()));
  EXPECT_TRUE(exited);
  operation.join();
}

TEST(OperationGateTest, CloseGivesUpAtTheDeadline) {
  OperationGate gate;
  ASSERT_TRUE(gate.Enter().ok());
  EXPECT_FALSE(gate.CloseAndWait(absl::Now() + absl::Milliseconds(10)));
  EXPECT_FALSE(gate.Enter().ok());  // closed all the same
  gate.Exit();
}

}  // namespace
}  // namespace rnnserve::server
