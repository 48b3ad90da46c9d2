#include "client/command_line.h"

#include "absl/flags/flag.h"
#include "client/common_flags.h"
#include "client/errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rnnserve::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(CommandLine, FormsOfFlagsAndPositionals) {
  absl::StatusOr<CommandLine> line = ParseCommandLine(
      {"export", "--server", "h:1", "id", "--json", "-chunk=5", "-", "--", "--not-a-flag"},
      {"server", "json", "chunk"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_THAT(line->positional, ElementsAre("export", "id", "-", "--not-a-flag"));
  EXPECT_EQ(absl::GetFlag(FLAGS_server), "h:1");
  EXPECT_TRUE(absl::GetFlag(FLAGS_json));
  EXPECT_EQ(absl::GetFlag(FLAGS_chunk), 5);
  EXPECT_TRUE(line->Given("json"));
  EXPECT_FALSE(line->Given("timeout"));

  line = ParseCommandLine({"--nojson"}, {"json"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_FALSE(absl::GetFlag(FLAGS_json));
}

TEST(CommandLine, UsageErrors) {
  absl::StatusOr<CommandLine> line = ParseCommandLine({"--chunk=5"}, {"json"});
  EXPECT_EQ(ExitCodeOf(line.status()), kExitUsage);
  EXPECT_THAT(line.status().message(), HasSubstr("unknown flag --chunk=5"));
  line = ParseCommandLine({"--chunk=many"}, {"chunk"});
  EXPECT_EQ(ExitCodeOf(line.status()), kExitUsage);
  EXPECT_THAT(line.status().message(), HasSubstr("--chunk=many"));
  line = ParseCommandLine({"--chunk"}, {"chunk"});
  EXPECT_THAT(line.status().message(), HasSubstr("--chunk needs a value"));
  line = ParseCommandLine({"--timeout=soon"}, {"timeout"});
  EXPECT_EQ(ExitCodeOf(line.status()), kExitUsage);
}

TEST(CommandLine, HelpStopsParsing) {
  absl::StatusOr<CommandLine> line = ParseCommandLine({"--help", "--bogus"}, {});
  ASSERT_TRUE(line.ok());
  EXPECT_TRUE(line->help);
  EXPECT_THAT(FlagHelp({"server", "json"}),
              HasSubstr("--server=\"127.0.0.1:50051\"\n      the rnnserve server"));
}

TEST(Errors, ExitCodesByOrigin) {
  EXPECT_EQ(ExitCodeOf(absl::OkStatus()), kExitOk);
  EXPECT_EQ(ExitCodeOf(UsageError("x")), kExitUsage);
  EXPECT_EQ(ExitCodeOf(RpcError("Call", grpc::Status(grpc::StatusCode::NOT_FOUND, "m"))), kExitRpc);
  EXPECT_EQ(ExitCodeOf(absl::NotFoundError("no file")), kExitLocal);
  const absl::Status rpc = RpcError("Step", 8, "queue full");
  EXPECT_EQ(rpc.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(rpc.message(), "Step: queue full");
  EXPECT_EQ(CodeName(14), "UNAVAILABLE");
  EXPECT_EQ(CodeName(99), "CODE_99");
}

}  // namespace
}  // namespace rnnserve::client
