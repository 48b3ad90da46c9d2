// `bench` against a spawned server: every counted step ends answered or
// failed (steps sent = answered + errors), bounded by --steps and by
// --duration, closed and open loop, through the native API and through the
// Open Inference Protocol (--protocol=v2); no timing is asserted.
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/bench/metrics_scraper.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/cli_test_util.h"
#include "tests/common/redis_server.h"

namespace rnnserve::client::testing {
namespace {

using ::testing::HasSubstr;

class BenchCommandTest : public ::testing::Test {
 protected:
  void Serve(const std::vector<std::string>& flags = {}) {
    absl::StatusOr<std::unique_ptr<ServerProcess>> server = ServerProcess::Start(flags);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    flag_ = "--server=" + server_->address();
  }
  // Runs bench with --json; the report.
  nlohmann::json Bench(std::vector<std::string> args, int want_exit = 0) {
    args.insert(args.begin(), "bench");
    args.push_back("--json");
    args.push_back(flag_);
    const CliResult r = RunCli(args);
    EXPECT_EQ(r.exit_code, want_exit) << r.err;
    return nlohmann::json::parse(r.out, nullptr, false);
  }
  std::unique_ptr<ServerProcess> server_;
  std::string flag_;
};

void ExpectConsistent(const nlohmann::json& report) {
  ASSERT_TRUE(report.is_object()) << report;
  for (const char* key : {"steps", "errors", "steps_sent", "steps_per_second", "latency_us",
                          "errors_by_code", "client_cpu_seconds", "server_cpu_seconds"}) {
    EXPECT_TRUE(report.contains(key)) << key;
  }
  EXPECT_EQ(report["steps_sent"].get<int64_t>(),
            report["steps"].get<int64_t>() + report["errors"].get<int64_t>());
  int64_t by_code = 0;
  for (const auto& [code, steps] : report["errors_by_code"].items())
    by_code += steps.get<int64_t>();
  EXPECT_EQ(by_code, report["errors"].get<int64_t>());
  const nlohmann::json& l = report["latency_us"];
  for (const char* key : {"p50", "p90", "p99", "p999", "max"}) {
    EXPECT_TRUE(l.contains(key)) << key;
  }
  if (report["steps"].get<int64_t>() > 0) {
    EXPECT_GT(l["p50"].get<double>(), 0);
    EXPECT_LE(l["p50"].get<double>(), l["p90"].get<double>());
    EXPECT_LE(l["p90"].get<double>(), l["p99"].get<double>());
    EXPECT_LE(l["p99"].get<double>(), l["p999"].get<double>());
    EXPECT_LE(l["p999"].get<double>(), l["max"].get<double>());
    EXPECT_GT(report["steps_per_second"].get<double>(), 0);
  }
}

TEST_F(BenchCommandTest, ClosedLoopSendsExactlyTheSteps) {
  Serve();
  const nlohmann::json report =
      Bench({"--model=forecast", "--sessions=16", "--streams=4", "--steps=1000"});
  ExpectConsistent(report);
  EXPECT_EQ(report["steps_sent"], 1000);
  EXPECT_EQ(report["steps"], 1000);
  EXPECT_EQ(report["errors"], 0);
  EXPECT_EQ(report["mode"], "closed");
  EXPECT_TRUE(report["server_cpu_seconds"].is_null());  // no --metrics
}

TEST_F(BenchCommandTest, ChunksOfTokensOverSeveralChannelsTrimTheLastRequest) {
  Serve();
  const nlohmann::json report =
      Bench({"--model=charlm", "--sessions=6", "--streams=3", "--channels=2", "--chunk=4",
             "--steps=50", "--warmup=100ms"});
  ExpectConsistent(report);
  EXPECT_EQ(report["steps_sent"], 50);
  EXPECT_EQ(report["errors"], 0);
  EXPECT_EQ(report["requests_sent"], 13);  // 12 of 4 steps, 1 of 2
}

TEST_F(BenchCommandTest, OpenLoopIsBoundedByDuration) {
  Serve();
  const nlohmann::json report =
      Bench({"--model=forecast", "--sessions=32", "--streams=4", "--rate=400", "--duration=500ms",
             "--steps=1000000", "--metrics=" + server_->metrics_address()});
  ExpectConsistent(report);
  EXPECT_EQ(report["mode"], "open");
  // Due times are start + n / 400 for n < 200: exactly 200 requests are due
  // within the 500 ms, however late the client or server runs.
  EXPECT_EQ(report["steps_sent"], 200);
  EXPECT_TRUE(report["server_cpu_seconds"].is_number());
  EXPECT_GE(report["server_cpu_seconds"].get<double>(), 0);
}

TEST_F(BenchCommandTest, ClosedLoopIsBoundedByDuration) {
  Serve();
  const nlohmann::json report =
      Bench({"--model=forecast", "--sessions=8", "--streams=2", "--duration=300ms", "--steps=0"});
  ExpectConsistent(report);
  EXPECT_GT(report["steps_sent"].get<int64_t>(), 0);
}

TEST_F(BenchCommandTest, ErrorsAreCountedByCode) {
  // Room for 4 sessions: the other 4 are refused at every start.
  Serve({"--max_sessions=4"});
  const nlohmann::json report =
      Bench({"--model=forecast", "--sessions=8", "--streams=2", "--steps=400"});
  ExpectConsistent(report);
  EXPECT_EQ(report["steps_sent"], 400);
  EXPECT_GT(report["steps"].get<int64_t>(), 0);
  EXPECT_GT(report["errors_by_code"]["RESOURCE_EXHAUSTED"].get<int64_t>(), 0);
}

TEST_F(BenchCommandTest, TextReport) {
  Serve();
  const CliResult r =
      RunCli({"bench", "--model=forecast", "--sessions=4", "--streams=2", "--steps=100", flag_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("steps:       100 sent = 100 answered + 0 failed"));
  EXPECT_THAT(r.out, HasSubstr("p99.9"));
  EXPECT_THAT(r.out, HasSubstr("errors:      none"));
  EXPECT_THAT(r.out, HasSubstr("client CPU:  "));
  EXPECT_THAT(r.out, HasSubstr("server CPU:  unknown (pass --metrics=HOST:PORT"));
  EXPECT_EQ(r.err, "");  // no progress line: stderr is not a terminal
}

TEST_F(BenchCommandTest, Errors) {
  Serve();
  EXPECT_EQ(RunCli({"bench", "--model=forecast", "--sessions=2", "--streams=4", flag_}).exit_code,
            2);
  EXPECT_EQ(RunCli({"bench", "--model=forecast", "--steps=0", flag_}).exit_code, 2);
  EXPECT_EQ(RunCli({"bench", "--model=nope", flag_}).exit_code, 1);
  EXPECT_EQ(RunCli({"bench", "--model=forecast", "--steps=10",
                    "--metrics=127.0.0.1:" + std::to_string(UnusedPort()), flag_})
                .exit_code,
            1);
  EXPECT_EQ(
      RunCli({"bench", "--model=forecast", "--steps=10", "--metrics=no-port", flag_}).exit_code, 2);
  const CliResult protocol =
      RunCli({"bench", "--model=forecast", "--steps=10", "--protocol=v3", flag_});
  EXPECT_EQ(protocol.exit_code, 2);
  EXPECT_THAT(protocol.err, HasSubstr("--protocol is native or v2"));
}

// rnnserve_requests_total{code="OK",method=METHOD,protocol=PROTOCOL}; -1
// when the page cannot be read or has no such sample.
double OkRequests(const ServerProcess& server, const std::string& method,
                  const std::string& protocol) {
  const absl::StatusOr<std::string> page =
      bench::FetchMetrics(server.metrics_address(), absl::Seconds(10));
  if (!page.ok()) return -1;
  const std::string labels =
      absl::StrCat("{code=\"OK\",method=\"", method, "\",protocol=\"", protocol, "\"} ");
  for (const absl::string_view line : absl::StrSplit(*page, '\n')) {
    double value = 0;
    if (absl::StartsWith(line, absl::StrCat("rnnserve_requests_total", labels)) &&
        absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value)) {
      return value;
    }
  }
  return -1;
}

// --protocol=v2: every step goes through ModelStreamInfer (the server counts
// them under protocol="inference", none under the native StreamSteps), floats
// and token ids in chunks, with the same report.
TEST_F(BenchCommandTest, V2SendsEveryStepThroughModelStreamInfer) {
  Serve();
  nlohmann::json report =
      Bench({"--protocol=v2", "--model=forecast", "--sessions=16", "--streams=4", "--steps=1000",
             "--metrics=" + server_->metrics_address()});
  ExpectConsistent(report);
  EXPECT_EQ(report["protocol"], "v2");
  EXPECT_EQ(report["steps_sent"], 1000);
  EXPECT_EQ(report["steps"], 1000);
  EXPECT_EQ(report["errors"], 0);
  EXPECT_TRUE(report["server_cpu_seconds"].is_number());
  EXPECT_EQ(OkRequests(*server_, "ModelStreamInfer", "inference"), 1000);
  EXPECT_EQ(OkRequests(*server_, "StreamSteps", "rnnserve.v1"), 0);

  report = Bench({"--protocol=v2", "--model=charlm", "--sessions=6", "--streams=3", "--channels=2",
                  "--chunk=4", "--steps=50", "--warmup=100ms"});
  ExpectConsistent(report);
  EXPECT_EQ(report["steps_sent"], 50);
  EXPECT_EQ(report["errors"], 0);
  EXPECT_EQ(report["requests_sent"], 13);  // 12 of 4 steps, 1 of 2
  EXPECT_EQ(report["end_session_failures"], 0);
}

// A refusal in a ModelStreamInfer response's error_message is counted by the
// code it names.
TEST_F(BenchCommandTest, V2ErrorsAreCountedByCode) {
  Serve({"--max_sessions=4"});
  const nlohmann::json report =
      Bench({"--protocol=v2", "--model=forecast", "--sessions=8", "--streams=2", "--steps=400"});
  ExpectConsistent(report);
  EXPECT_EQ(report["steps_sent"], 400);
  EXPECT_GT(report["steps"].get<int64_t>(), 0);
  EXPECT_GT(report["errors_by_code"]["RESOURCE_EXHAUSTED"].get<int64_t>(), 0) << report;
}

TEST_F(BenchCommandTest, V2TextReport) {
  Serve();
  const CliResult r = RunCli({"bench", "--protocol=v2", "--model=forecast", "--sessions=4",
                              "--streams=2", "--steps=100", flag_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("bench: v2 ModelStreamInfer, model forecast"));
  EXPECT_THAT(r.out, HasSubstr("steps:       100 sent = 100 answered + 0 failed"));
}

TEST_F(BenchCommandTest, ReportsRecoveryCounts) {
  Serve();
  const nlohmann::json report =
      Bench({"--model=forecast", "--sessions=4", "--streams=2", "--steps=100"});
  ExpectConsistent(report);
  for (const char* key : {"steps_resent", "restarts", "sessions_lost", "reconnects"}) {
    EXPECT_EQ(report[key], 0) << key;
  }
}

// Recovery through either protocol (--protocol=v2 reads NOT_FOUND and
// ABORTED, with where the session stands, from ModelStreamInfer's
// error_message and session_steps parameter).
class BenchResendTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::string ProtocolFlag() const { return "--protocol=" + GetParam(); }
};

// A server killed mid-run (no snapshot: every session is gone) and started
// again on its port: each stream reopens, each session is restarted and
// replayed, and every step is still answered exactly once.
TEST_P(BenchResendTest, SurvivesAServerCrash) {
  absl::StatusOr<std::unique_ptr<ServerProcess>> server = ServerProcess::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  // Open loop: 600 requests due over 3 s, so the crash comes mid-run, after
  // the server computed 100 steps (every session has started).
  std::unique_ptr<CliProcess> bench = CliProcess::Start(
      {"bench", ProtocolFlag(), "--model=forecast", "--sessions=8", "--streams=2", "--steps=600",
       "--rate=200", "--max_reconnects=30", "--json", absl::StrCat("--server=127.0.0.1:", port)});
  ASSERT_NE(bench, nullptr);
  ASSERT_TRUE(WaitForMetric(**server, "rnnserve_steps_total", 100));
  (*server)->Kill();
  server = ServerProcess::Start({absl::StrCat("--listen=127.0.0.1:", port)});
  ASSERT_TRUE(server.ok()) << server.status();
  const CliResult r = bench->Finish();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json report = nlohmann::json::parse(r.out, nullptr, false);
  RecordProperty("report", r.out);  // the recovery counts, in the test's XML report
  ExpectConsistent(report);
  EXPECT_EQ(report["steps_sent"], 600);
  EXPECT_EQ(report["steps"], 600) << report;
  EXPECT_EQ(report["errors"], 0) << report;
  EXPECT_GE(report["reconnects"].get<int64_t>(), 2) << report;  // both streams
  EXPECT_GE(report["restarts"].get<int64_t>(), 1) << report;
  EXPECT_GE(report["steps_resent"].get<int64_t>(), report["restarts"].get<int64_t>()) << report;
  EXPECT_EQ(report["sessions_lost"], 0) << report;
}

// The same with --session_store (a real redis-server) and a checkpoint every
// 100 ms: the sessions come back from their checkpoints behind the client,
// are refused ABORTED with where they stand and resent from there, with only
// the inputs after the checkpoint kept (--keep_steps=20, a fifth of each
// session's steps).
TEST_P(BenchResendTest, SurvivesAReplicaCrashWithASessionStore) {
  absl::StatusOr<std::unique_ptr<rnnserve::testing::RedisServer>> redis =
      rnnserve::testing::RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status();
  std::vector<std::string> flags = {"--session_store=" + (*redis)->url(),
                                    "--checkpoint_interval=100ms"};
  absl::StatusOr<std::unique_ptr<ServerProcess>> server = ServerProcess::Start(flags);
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  std::unique_ptr<CliProcess> bench =
      CliProcess::Start({"bench", ProtocolFlag(), "--model=forecast", "--sessions=8", "--streams=2",
                         "--steps=800", "--rate=200", "--max_reconnects=30", "--keep_steps=20",
                         "--json", absl::StrCat("--server=127.0.0.1:", port)});
  ASSERT_NE(bench, nullptr);
  // A crash mid-run, once every session has a checkpoint (8 steps a pass:
  // the first pass after every session started holds them all).
  ASSERT_TRUE(WaitForMetric(**server, "rnnserve_steps_total", 200));
  ASSERT_TRUE(WaitForMetric(**server, "rnnserve_checkpoint_batch_sessions_sum", 8));
  (*server)->Kill();
  flags.push_back(absl::StrCat("--listen=127.0.0.1:", port));
  server = ServerProcess::Start(flags);
  ASSERT_TRUE(server.ok()) << server.status();
  const CliResult r = bench->Finish();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json report = nlohmann::json::parse(r.out, nullptr, false);
  RecordProperty("report", r.out);
  ExpectConsistent(report);
  EXPECT_EQ(report["steps"], 800) << report;
  EXPECT_EQ(report["errors"], 0) << report;
  EXPECT_GE(report["reconnects"].get<int64_t>(), 2) << report;
  // How many steps come back behind depends on when the crash falls (one
  // manual run: 8 sessions pulled from their checkpoints, 8 ABORTED, 20
  // steps resent); none is replayed, since every session had a checkpoint.
  EXPECT_EQ(report["restarts"], 0) << report;
  EXPECT_EQ(report["sessions_lost"], 0) << report;
}

INSTANTIATE_TEST_SUITE_P(Protocols, BenchResendTest, ::testing::Values("native", "v2"));

TEST(BenchNoServer, ExitOneWithTheCode) {
  const CliResult r = RunCli({"bench", "--model=forecast", "--steps=10", "--timeout=5s",
                              "--server=127.0.0.1:" + std::to_string(UnusedPort())});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("UNAVAILABLE"));
}

}  // namespace
}  // namespace rnnserve::client::testing
