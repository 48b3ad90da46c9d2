#include "client/bench/metrics_scraper.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/cli_test_util.h"

namespace rnnserve::client::bench {
namespace {

TEST(MetricValue, PlainLabelledAndPrefixed) {
  const std::string page =
      "# HELP process_cpu_seconds_total CPU\n"
      "# TYPE process_cpu_seconds_total counter\n"
      "process_cpu_seconds_total 12.5\n"
      "process_cpu_seconds_total_other 99\n"
      "rnnserve_steps_total{model=\"a\",version=\"1\"} 3\n"
      "rnnserve_steps_total{model=\"b\",version=\"1\"} 4 1700000000\n";
  EXPECT_EQ(*MetricValue(page, "process_cpu_seconds_total"), 12.5);
  EXPECT_EQ(*MetricValue(page, "rnnserve_steps_total"), 7);
  EXPECT_EQ(MetricValue(page, "process_cpu").status().code(), absl::StatusCode::kNotFound);
}

TEST(FetchMetrics, FromARealServer) {
  absl::StatusOr<std::unique_ptr<testing::ServerProcess>> server = testing::ServerProcess::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  absl::StatusOr<std::string> page = FetchMetrics((*server)->metrics_address(), absl::Seconds(10));
  ASSERT_TRUE(page.ok()) << page.status();
  absl::StatusOr<double> cpu = MetricValue(*page, "process_cpu_seconds_total");
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  EXPECT_GE(*cpu, 0);
  const absl::StatusOr<std::string> none =
      FetchMetrics("127.0.0.1:" + std::to_string(testing::UnusedPort()), absl::Seconds(5));
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace rnnserve::client::bench
