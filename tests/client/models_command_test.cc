// `models`, `model NAME` and the usage errors, against a spawned server.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/cli_test_util.h"

namespace rnnserve::client::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class ModelsCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<ServerProcess>> server = ServerProcess::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    flag_ = "--server=" + server_->address();
  }
  std::unique_ptr<ServerProcess> server_;
  std::string flag_;
};

TEST_F(ModelsCommandTest, TableListsEveryDemoModel) {
  const CliResult r = RunCli({"models", flag_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("NAME"));
  EXPECT_THAT(r.out, HasSubstr("forecast       1        gru   2       32      floats x1"));
  EXPECT_THAT(r.out, HasSubstr("charlm         1        lstm  2       192     tokens <98"));
  EXPECT_THAT(r.out, HasSubstr("charlm_onnx"));
  EXPECT_THAT(r.out, HasSubstr("forecast_onnx"));
}

TEST_F(ModelsCommandTest, JsonUsesTheApiFieldNames) {
  const CliResult r = RunCli({"models", "--json", flag_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json json = nlohmann::json::parse(r.out);
  ASSERT_EQ(json["models"].size(), 4u);
  EXPECT_EQ(json["models"][0]["model"]["name"], "charlm");
  EXPECT_EQ(json["models"][0]["input_kind"], "INPUT_KIND_TOKENS");
  EXPECT_EQ(json["models"][0]["vocabulary_size"], 98);
}

TEST_F(ModelsCommandTest, ModelTableAndJson) {
  CliResult r = RunCli({"model", "forecast", flag_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("cell             gru"));
  EXPECT_THAT(r.out, HasSubstr("input_size       1"));
  EXPECT_THAT(r.out, HasSubstr("state_size       64 floats (256 bytes a session)"));
  EXPECT_THAT(r.out, HasSubstr("fingerprint      sha256:"));
  // The demo forecaster speaks sunspots: its transforms are shown.
  EXPECT_THAT(r.out, HasSubstr("input_map        (x - 43.7267) / 34.0611"));
  EXPECT_THAT(r.out, HasSubstr("output_map       y * 34.0611 + 43.7267"));

  r = RunCli({"model", "charlm", "--json", flag_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json json = nlohmann::json::parse(r.out);
  EXPECT_EQ(json["model"]["name"], "charlm");
  EXPECT_EQ(json["model"]["version"], "1");  // int64 is a string in proto3 JSON
  EXPECT_EQ(json["output_size"], 98);
  EXPECT_EQ(json["streamable"], true);
  EXPECT_FALSE(json.contains("input_transform"));  // charlm takes token ids as they are
}

TEST_F(ModelsCommandTest, UnknownModelIsAnRpcError) {
  const CliResult r = RunCli({"model", "no_such_model", flag_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("NOT_FOUND"));
  EXPECT_THAT(r.err, HasSubstr("no_such_model"));
  EXPECT_EQ(r.out, "");
}

TEST_F(ModelsCommandTest, UsageErrorsExitWithTwo) {
  EXPECT_EQ(RunCli({"model", flag_}).exit_code, 2);                 // no NAME
  EXPECT_EQ(RunCli({"models", "--prompt=x", flag_}).exit_code, 2);  // another's flag
  EXPECT_EQ(RunCli({"models", "--no_such_flag", flag_}).exit_code, 2);
  EXPECT_EQ(RunCli({"no_such_subcommand"}).exit_code, 2);
  EXPECT_EQ(RunCli({}).exit_code, 2);
  EXPECT_EQ(RunCli({"bench", "--model=forecast", "--timeout=soon", flag_}).exit_code, 2);
}

TEST(CliHelp, EverySubcommandHasHelpWithTheExitCodes) {
  const CliResult top = RunCli({"--help"});
  ASSERT_EQ(top.exit_code, 0);
  EXPECT_THAT(top.out, HasSubstr("Exit codes:"));
  for (const char* command :
       {"models", "model", "stream", "generate", "session", "health", "bench"}) {
    EXPECT_THAT(top.out, HasSubstr(std::string("  ") + command + " "));
    const CliResult r = RunCli({command, "--help"});
    EXPECT_EQ(r.exit_code, 0) << command;
    EXPECT_THAT(r.out, StartsWith(std::string("Usage: rnnserve-cli ") + command)) << command;
    EXPECT_THAT(r.out, HasSubstr("--server=\"127.0.0.1:50051\"")) << command;
    EXPECT_THAT(r.out, HasSubstr("--timeout=10s")) << command;
    EXPECT_THAT(r.out, HasSubstr("  2  usage error")) << command;
  }
}

TEST(CliNoServer, ClearErrorAndExitCodeOne) {
  const CliResult r =
      RunCli({"models", "--server=127.0.0.1:" + std::to_string(UnusedPort()), "--timeout=5s"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("UNAVAILABLE"));
  EXPECT_THAT(r.err, HasSubstr("ListModels"));
}

}  // namespace
}  // namespace rnnserve::client::testing
