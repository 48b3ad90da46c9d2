// bench's outputs: the live progress line, the final report as text, and
// the same report as JSON for scripts.
#ifndef RNNSERVE_CLIENT_BENCH_BENCH_REPORT_H_
#define RNNSERVE_CLIENT_BENCH_BENCH_REPORT_H_

#include <optional>
#include <string>

#include "absl/time/time.h"
#include "client/bench/load_engine.h"
#include "nlohmann/json.hpp"

namespace rnnserve::client::bench {

struct BenchReport {
  // What ran.
  std::string protocol = "native";  // "native" (StreamSteps) or "v2" (ModelStreamInfer)
  std::string model;
  int64_t model_version = 0;
  std::string input;  // "floats x1", "tokens <98"
  int sessions = 0;
  int streams = 0;
  int channels = 0;
  int chunk = 1;
  double rate = 0;  // 0: closed loop
  int64_t steps_limit = 0;
  absl::Duration duration_limit;
  absl::Duration warmup;
  // What happened.
  LoadProgress counts;
  double client_cpu_seconds = 0;
  std::optional<double> server_cpu_seconds;  // unknown without --metrics
  std::string server_cpu_note;               // why it is unknown
  int64_t end_session_failures = 0;
};

double StepsPerSecond(const LoadProgress& counts);

// The human-readable report, several lines.
std::string FormatReport(const BenchReport& report);

// Keys: steps (answered), errors (failed steps), steps_sent, requests_sent,
// requests_answered, errors_by_code {CODE: steps}, steps_resent, restarts,
// sessions_lost, reconnects, steps_per_second,
// duration_seconds, latency_us {p50, p90, p99, p999, max, mean},
// client_cpu_seconds, server_cpu_seconds (null when unknown), and the
// run's settings (protocol, model, version, mode, rate, sessions, streams, channels,
// chunk, warmup_seconds).
nlohmann::json ReportJson(const BenchReport& report);

// One line: time, steps/s, p50 and p99 of the last interval, errors so far.
std::string FormatProgress(const LoadProgress& now, const LoadProgress& before,
                           absl::Duration since_start, absl::Duration interval);

}  // namespace rnnserve::client::bench

#endif  // RNNSERVE_CLIENT_BENCH_BENCH_REPORT_H_
