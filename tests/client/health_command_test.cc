// `health`: its exit code is what the container HEALTHCHECK and the
// Kubernetes probes read.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/cli_test_util.h"

namespace rnnserve::client::testing {
namespace {

using ::testing::HasSubstr;

TEST(HealthCommand, ZeroWhenServingOneOtherwise) {
  absl::StatusOr<std::unique_ptr<ServerProcess>> server = ServerProcess::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string flag = "--server=" + (*server)->address();

  CliResult r = RunCli({"health", flag});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "SERVING\n");
  r = RunCli({"health", "--service=forecast", flag});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "SERVING\n");

  r = RunCli({"health", "--service=no_such_model", flag});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("NOT_FOUND"));
  EXPECT_THAT(r.err, HasSubstr("unknown service \"no_such_model\""));

  EXPECT_EQ((*server)->Stop(), 0);
  r = RunCli({"health", flag, "--timeout=5s"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("UNAVAILABLE"));
}

TEST(HealthCommand, OneWithoutAServer) {
  const CliResult r =
      RunCli({"health", "--server=127.0.0.1:" + std::to_string(UnusedPort()), "--timeout=5s"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("UNAVAILABLE"));
  EXPECT_EQ(r.out, "");
}

TEST(HealthCommand, UsageError) { EXPECT_EQ(RunCli({"health", "extra"}).exit_code, 2); }

}  // namespace
}  // namespace rnnserve::client::testing
