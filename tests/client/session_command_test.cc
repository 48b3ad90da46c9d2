// `session` against spawned servers: export then import, on the same server
// and on another process, continues the sequence exactly.
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/cli_test_util.h"
#include "util/npy.h"

namespace rnnserve::client::testing {
namespace {

using ::testing::HasSubstr;

// Lines [first, last) of the forecast sample input as CSV.
std::string ForecastCsv(int first, int last) {
  const absl::StatusOr<util::NpyArray> input =
      util::ReadNpy(SourcePath("models/forecast/1/sample_input.npy"));
  std::string csv;
  for (int t = first; t < last && input.ok(); ++t) {
    csv += absl::StrFormat("%.9g\n", input->floats[t]);
  }
  return csv;
}

std::vector<float> ForecastExpected(int first, int last) {
  const absl::StatusOr<util::NpyArray> expected =
      util::ReadNpy(SourcePath("models/forecast/1/sample_expected.npy"));
  std::vector<float> rows;
  for (int t = first; t < last && expected.ok(); ++t) rows.push_back(expected->floats[t]);
  return rows;
}

void ExpectColumn(const std::string& csv, const std::vector<float>& expected) {
  const std::vector<std::vector<float>> rows = ParseCsv(csv);
  ASSERT_EQ(rows.size(), expected.size());
  for (size_t t = 0; t < rows.size(); ++t)
    EXPECT_NEAR(rows[t][0], expected[t], kForecastTolerance) << t;
}

class SessionCommandTest : public ::testing::Test {
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

TEST_F(SessionCommandTest, ExportImportRoundTripContinuesExactly) {
  ASSERT_EQ(
      RunCli({"stream", "--model=forecast", "--session=a", "--input=-", flag_}, ForecastCsv(0, 25))
          .exit_code,
      0);
  const std::string state = TempPath("a.state");
  CliResult r = RunCli({"session", "export", "a", "--out", state, flag_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("exported session a (model forecast version 1, 25 steps, "
                               "256 bytes of state"));

  r = RunCli({"session", "import", state, "--session=b", flag_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("b        forecast  1        25"));
  r = RunCli({"stream", "--session=b", "--input=-", flag_}, ForecastCsv(25, 50));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectColumn(r.out, ForecastExpected(25, 50));
  // The original is untouched by the clone.
  r = RunCli({"session", "describe", "a", "--json", flag_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["steps"], "25");
}

TEST_F(SessionCommandTest, MovesToAnotherServerProcess) {
  absl::StatusOr<std::unique_ptr<ServerProcess>> other = ServerProcess::Start();
  ASSERT_TRUE(other.ok()) << other.status();
  const std::string other_flag = "--server=" + (*other)->address();
  ASSERT_EQ(
      RunCli({"stream", "--model=forecast", "--session=m", "--input=-", flag_}, ForecastCsv(0, 30))
          .exit_code,
      0);
  const std::string state = TempPath("m.state");
  ASSERT_EQ(RunCli({"session", "export", "m", "--out=" + state, flag_}).exit_code, 0);
  ASSERT_EQ(RunCli({"session", "end", "m", flag_}).exit_code, 0);
  CliResult r = RunCli({"session", "import", state, other_flag});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunCli({"stream", "--session=m", "--input=-", other_flag}, ForecastCsv(30, 50));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectColumn(r.out, ForecastExpected(30, 50));
}

TEST_F(SessionCommandTest, EndResetDescribe) {
  ASSERT_EQ(
      RunCli({"stream", "--model=forecast", "--session=s", "--input=-", flag_}, ForecastCsv(0, 5))
          .exit_code,
      0);
  CliResult r = RunCli({"session", "describe", "s", flag_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("SESSION  MODEL     VERSION  STEPS  DURABLE  IDLE"));
  EXPECT_THAT(r.out, HasSubstr("s        forecast  1        5      0        "));  // no store
  r = RunCli({"session", "reset", "s", "--json", flag_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["steps"], "0");
  // After a reset the sequence starts over: the first outputs again.
  r = RunCli({"stream", "--session=s", "--input=-", flag_}, ForecastCsv(0, 3));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectColumn(r.out, ForecastExpected(0, 3));
  ASSERT_EQ(RunCli({"session", "end", "s", flag_}).exit_code, 0);
  r = RunCli({"session", "describe", "s", flag_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("NOT_FOUND"));
}

TEST_F(SessionCommandTest, Errors) {
  EXPECT_EQ(RunCli({"session", "export", "s", flag_}).exit_code, 2);  // no --out
  EXPECT_EQ(RunCli({"session", "frobnicate", "s", flag_}).exit_code, 2);
  EXPECT_EQ(RunCli({"session", "end", flag_}).exit_code, 2);
  CliResult r = RunCli({"session", "export", "absent", "--out", TempPath("x"), flag_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("NOT_FOUND"));
  WriteFile(TempPath("garbage.state"), "\xff\xff\xff");
  r = RunCli({"session", "import", TempPath("garbage.state"), flag_});
  EXPECT_EQ(r.exit_code, 3);
  r = RunCli({"session", "import", TempPath("missing.state"), flag_});
  EXPECT_EQ(r.exit_code, 3);
}

}  // namespace
}  // namespace rnnserve::client::testing
