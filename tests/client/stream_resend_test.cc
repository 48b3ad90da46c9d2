// `stream` across a server that goes away after the 20th answer and comes
// back on the same port: the client reopens its stream, sends again what the
// server lacks (every request carries expected_session_steps) and prints
// exactly the outputs of an uninterrupted run, each once, in order.
//
// The server checks expected_session_steps, so a session restored behind
// its client is refused ABORTED(N) and resent from N + 1. (Against a server
// that does not, the answer at the wrong step count shows it and the client
// replays the session from its start: the same outputs.)
#include <filesystem>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/cli_test_util.h"
#include "util/npy.h"

namespace rnnserve::client::testing {
namespace {

using ::testing::HasSubstr;

constexpr int kFirstPart = 20;  // steps answered before the server goes away

// The forecast model's sample input, one CSV line per step, and its
// expected outputs.
struct Sample {
  std::vector<std::string> lines;
  util::NpyArray expected;
};

Sample LoadSample() {
  Sample sample;
  absl::StatusOr<util::NpyArray> input =
      util::ReadNpy(SourcePath("models/forecast/1/sample_input.npy"));
  absl::StatusOr<util::NpyArray> expected =
      util::ReadNpy(SourcePath("models/forecast/1/sample_expected.npy"));
  EXPECT_TRUE(input.ok() && expected.ok());
  if (!input.ok() || !expected.ok()) return sample;
  for (int64_t t = 0; t < input->shape[0]; ++t) {
    sample.lines.push_back(absl::StrFormat("%.9g\n", input->floats[t]));  // reads back exactly
  }
  sample.expected = *std::move(expected);
  return sample;
}

std::string Join(const std::vector<std::string>& lines, size_t from, size_t to) {
  std::string text;
  for (size_t i = from; i < to && i < lines.size(); ++i) text += lines[i];
  return text;
}

void ExpectOutputs(const std::vector<std::vector<float>>& rows, const util::NpyArray& expected) {
  ASSERT_EQ(static_cast<int64_t>(rows.size()), expected.shape[0]);
  for (size_t t = 0; t < rows.size(); ++t) {
    ASSERT_EQ(rows[t].size(), 1u) << "row " << t;
    EXPECT_NEAR(rows[t][0], expected.floats[t], kForecastTolerance) << "step " << t + 1;
  }
}

// Waits at most 60 s until the snapshot file at `path` is written twice
// more: the second write began after this call.
bool SnapshotWrittenTwice(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::file_time_type last = fs::last_write_time(path, error);
  int writes = 0;
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (writes < 2 && absl::Now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const fs::file_time_type now = fs::last_write_time(path, error);
    if (!error && now != last) {
      last = now;
      ++writes;
    }
  }
  return writes == 2;
}

enum class Outage { kCrash, kCrashWithSnapshot, kShutdownWithSnapshot };

struct Case {
  Outage outage;
  std::vector<std::string> cli_flags;
};

void PrintTo(const Case& c, std::ostream* out) {
  static const char* const kOutages[] = {"crash", "crash with snapshot", "shutdown with snapshot"};
  *out << kOutages[static_cast<int>(c.outage)];
  for (const std::string& flag : c.cli_flags) *out << " " << flag;
}

class StreamResendTest : public ::testing::TestWithParam<Case> {
 protected:
  void Serve(const std::vector<std::string>& flags) {
    absl::StatusOr<std::unique_ptr<ServerProcess>> server = ServerProcess::Start(flags);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  std::unique_ptr<ServerProcess> server_;
};

TEST_P(StreamResendTest, PrintsTheUninterruptedRunsOutputs) {
  const Case& c = GetParam();
  const Sample sample = LoadSample();
  ASSERT_EQ(sample.lines.size(), 50u);
  std::vector<std::string> server_flags;
  if (c.outage != Outage::kCrash) {
    server_flags.push_back("--snapshot=" + TempPath("sessions.snapshot"));
  }
  if (c.outage == Outage::kCrashWithSnapshot) server_flags.push_back("--snapshot_interval=50ms");
  Serve(server_flags);
  const int port = server_->port();

  std::vector<std::string> args = {"stream", "--model=forecast", "--input=-",
                                   absl::StrCat("--server=127.0.0.1:", port)};
  args.insert(args.end(), c.cli_flags.begin(), c.cli_flags.end());
  std::unique_ptr<CliProcess> cli = CliProcess::Start(args);
  ASSERT_NE(cli, nullptr);
  if (c.outage == Outage::kCrashWithSnapshot) {
    // Half first, and a periodic snapshot begun after it, so the session
    // comes back behind the client (by up to half).
    cli->Write(Join(sample.lines, 0, kFirstPart / 2));
    ASSERT_TRUE(cli->WaitForLines(kFirstPart / 2));
    ASSERT_TRUE(SnapshotWrittenTwice(TempPath("sessions.snapshot")));
  }
  const size_t written = c.outage == Outage::kCrashWithSnapshot ? kFirstPart / 2 : 0;
  cli->Write(Join(sample.lines, written, kFirstPart));
  ASSERT_TRUE(cli->WaitForLines(kFirstPart)) << cli->Finish().err;

  if (c.outage == Outage::kShutdownWithSnapshot) {
    ASSERT_EQ(server_->Stop(), 0);
  } else {
    server_->Kill();
  }
  server_flags.push_back(absl::StrCat("--listen=127.0.0.1:", port));  // the last --listen wins
  Serve(server_flags);

  cli->Write(Join(sample.lines, kFirstPart, sample.lines.size()));
  const CliResult r = cli->Finish();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  RecordProperty("cli_stderr", r.err);  // how it recovered, in the test's XML report
  EXPECT_THAT(r.err, HasSubstr("stream: recovered:"));
  if (c.outage == Outage::kCrash) {
    // Nothing came back: NOT_FOUND, so the session was started again and replayed.
    EXPECT_THAT(r.err, HasSubstr(" 1 restarts"));
  }
  if (c.outage != Outage::kCrash) {
    // It came back where the client stood (SIGTERM), or behind it (a crash
    // after the last periodic snapshot): refused ABORTED with where it
    // stands, and only the steps after that are sent again.
    EXPECT_THAT(r.err, HasSubstr(" 0 restarts"));
  }
  if (absl::StrContains(absl::StrJoin(c.cli_flags, " "), "jsonl")) {
    std::vector<std::vector<float>> rows;
    int64_t step = 0;
    for (absl::string_view line : absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
      const nlohmann::json json = nlohmann::json::parse(line);
      EXPECT_EQ(json["step"], ++step);  // each step once, in order
      rows.push_back(json["output"].get<std::vector<float>>());
    }
    ExpectOutputs(rows, sample.expected);
  } else {
    ExpectOutputs(ParseCsv(r.out), sample.expected);
  }
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  static const char* const kOutages[] = {"Crash", "CrashWithSnapshot", "ShutdownWithSnapshot"};
  std::string name = kOutages[static_cast<int>(info.param.outage)];
  for (const std::string& flag : info.param.cli_flags) {
    if (flag == "--unary") name += "Unary";
    if (absl::StartsWith(flag, "--chunk")) name += "Chunked";
    if (flag == "--format=jsonl") name += "Jsonl";
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(
    Outages, StreamResendTest,
    ::testing::Values(Case{Outage::kCrash, {}}, Case{Outage::kCrash, {"--unary", "--chunk=4"}},
                      Case{Outage::kShutdownWithSnapshot, {"--format=jsonl"}},
                      Case{Outage::kCrashWithSnapshot, {"--chunk=2", "--format=jsonl"}},
                      Case{Outage::kCrashWithSnapshot, {"--unary"}}),
    CaseName);

TEST(StreamResendGiveUpTest, AServerThatNeverComesBackIsAnErrorAfterTheRetries) {
  absl::StatusOr<std::unique_ptr<ServerProcess>> server = ServerProcess::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  std::unique_ptr<CliProcess> cli =
      CliProcess::Start({"stream", "--model=forecast", "--input=-", "--max_reconnects=2",
                         absl::StrCat("--server=127.0.0.1:", port)});
  ASSERT_NE(cli, nullptr);
  cli->Write("0.5\n");
  ASSERT_TRUE(cli->WaitForLines(1));
  (*server)->Kill();
  cli->Write("0.25\n");
  const CliResult r = cli->Finish();
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("UNAVAILABLE"));
  EXPECT_THAT(r.err, HasSubstr("gave up after 2 recoveries in a row (--max_reconnects)"));
}

}  // namespace
}  // namespace rnnserve::client::testing
