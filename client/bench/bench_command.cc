// `bench`: load the server with many sessions and report throughput, latency
// percentiles, errors by code and CPU on both sides (client/bench/).
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "client/bench/bench_report.h"
#include "client/bench/load_engine.h"
#include "client/bench/metrics_scraper.h"
#include "client/channel.h"
#include "client/command.h"
#include "client/common_flags.h"
#include "client/errors.h"
#include "client/model_info.h"
#include "util/status_macros.h"

ABSL_FLAG(int, sessions, 64, "sessions stepped (S)");
ABSL_FLAG(int, streams, 8,
          "bidirectional streams (K), each carrying S/K sessions; the "
          "concurrency, since a stream has one request in flight");
ABSL_FLAG(int, channels, 1, "gRPC channels (TCP connections) the streams are spread over");
ABSL_FLAG(int64_t, steps, 10000,
          "steps to count, over all sessions (N); 0: bounded by "
          "--duration only");
ABSL_FLAG(double, rate, 0,
          "open loop: requests per second over all streams (R); 0: closed "
          "loop, each stream sends as soon as it is answered");
ABSL_FLAG(absl::Duration, duration, absl::ZeroDuration(),
          "stop sending after this long (after warmup); 0: bounded by --steps only");
ABSL_FLAG(absl::Duration, warmup, absl::ZeroDuration(),
          "run this long first without counting (sessions start, caches warm)");
ABSL_FLAG(std::string, metrics, "",
          "the server's Prometheus address HOST:PORT: its process_cpu_seconds_total is read "
          "before and after the run for the server CPU figure");
ABSL_FLAG(bool, end_sessions, true, "end the bench's sessions after the run");
ABSL_FLAG(std::string, protocol, "native",
          "the API the steps go through: native (rnnserve.v1 StreamSteps) or v2 (the Open "
          "Inference Protocol's ModelStreamInfer with Triton's sequence parameters)");

namespace rnnserve::client {
namespace {

// Set by SIGINT; a signal handler can only reach a global.
std::atomic<bool> interrupted{false};

extern "C" void OnInterrupt(int) { interrupted.store(true); }

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// The server's process_cpu_seconds_total. A malformed --metrics is a usage
// error; an address that does not answer, or a page without the metric, is
// the server's side (exit code 1).
absl::StatusOr<double> ServerCpu(const std::string& metrics, absl::Duration timeout) {
  absl::StatusOr<std::string> page =
      bench::FetchMetrics(metrics, std::min(timeout, absl::Seconds(10)));
  if (absl::IsInvalidArgument(page.status())) return UsageError(page.status().message());
  if (!page.ok()) return ServerRefused(page.status().code(), page.status().message());
  absl::StatusOr<double> cpu = bench::MetricValue(*page, "process_cpu_seconds_total");
  if (!cpu.ok()) return ServerRefused(cpu.status().code(), cpu.status().message());
  return cpu;
}

absl::StatusOr<bench::LoadOptions> OptionsFromFlags() {
  bench::LoadOptions o;
  RNN_ASSIGN_OR_RETURN(o.connection, ConnectionFromFlags());
  o.sessions = absl::GetFlag(FLAGS_sessions);
  o.streams = absl::GetFlag(FLAGS_streams);
  o.channels = absl::GetFlag(FLAGS_channels);
  o.chunk = absl::GetFlag(FLAGS_chunk);
  o.steps = absl::GetFlag(FLAGS_steps);
  o.rate = absl::GetFlag(FLAGS_rate);
  o.duration = absl::GetFlag(FLAGS_duration);
  o.warmup = absl::GetFlag(FLAGS_warmup);
  o.timeout = absl::GetFlag(FLAGS_timeout);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.max_reconnects = absl::GetFlag(FLAGS_max_reconnects);
  o.keep_steps = absl::GetFlag(FLAGS_keep_steps);
  const std::string protocol = absl::GetFlag(FLAGS_protocol);
  if (protocol == "v2") {
    o.protocol = bench::StepProtocol::kV2;
  } else if (protocol != "native") {
    return UsageError(absl::StrCat("--protocol is native or v2, not \"", protocol, "\""));
  }
  if (o.sessions < 1) return UsageError("--sessions must be at least 1");
  if (o.streams < 1 || o.streams > o.sessions) {
    return UsageError(absl::StrCat("--streams must be 1 to --sessions (", o.sessions,
                                   "): every stream carries at least one session"));
  }
  if (o.channels < 1 || o.channels > o.streams) {
    return UsageError("--channels must be 1 to --streams");
  }
  if (o.chunk < 1) return UsageError("--chunk must be at least 1");
  if (o.max_reconnects < 0) return UsageError("--max_reconnects must be 0 or more");
  if (o.keep_steps < 1) return UsageError("--keep_steps must be at least 1");
  if (o.steps < 0) return UsageError("--steps must be 0 or more");
  if (!(o.rate >= 0)) return UsageError("--rate must be 0 (closed loop) or more");
  if (o.duration < absl::ZeroDuration() || o.warmup < absl::ZeroDuration()) {
    return UsageError("--duration and --warmup must not be negative");
  }
  if (o.steps == 0 && o.duration == absl::ZeroDuration()) {
    return UsageError("the run needs a bound: --steps N or --duration D");
  }
  return o;
}

absl::Status RunBench(const CommandLine& line) {
  if (!line.positional.empty()) return UsageError("bench takes no arguments, only flags");
  RNN_ASSIGN_OR_RETURN(bench::LoadOptions options, OptionsFromFlags());
  const absl::Duration timeout = absl::GetFlag(FLAGS_timeout);
  RNN_ASSIGN_OR_RETURN(options.model,
                       DescribeModel(MakeChannel(options.connection), absl::GetFlag(FLAGS_model),
                                     absl::GetFlag(FLAGS_model_version), timeout));
  if (!options.model.streamable()) {
    return ServerRefused(absl::StatusCode::kFailedPrecondition,
                         absl::StrCat("model ", options.model.model().name(),
                                      " cannot be stepped (it reads sequences backwards)"));
  }
  const std::string metrics = absl::GetFlag(FLAGS_metrics);
  // Checked before the run, so a wrong address fails at once.
  if (!metrics.empty()) RNN_RETURN_IF_ERROR(ServerCpu(metrics, timeout).status());

  bench::BenchReport report;
  report.protocol = absl::GetFlag(FLAGS_protocol);
  report.model = options.model.model().name();
  report.model_version = options.model.model().version();
  report.input = InputSummary(options.model);
  report.sessions = options.sessions;
  report.streams = options.streams;
  report.channels = options.channels;
  report.chunk = options.chunk;
  report.rate = options.rate;
  report.steps_limit = options.steps;
  report.duration_limit = options.duration;
  report.warmup = options.warmup;

  struct sigaction action {};
  action.sa_handler = OnInterrupt;
  sigaction(SIGINT, &action, nullptr);
  const bool progress = isatty(STDERR_FILENO) == 1;

  bench::LoadEngine engine(options);
  double cpu_before = 0;
  absl::StatusOr<double> server_before = absl::UnknownError("the run never left warmup");
  bool measuring = false;
  // CPU is counted from the end of warmup; with none, from before the start.
  auto start_measuring = [&] {
    measuring = true;
    cpu_before = CpuSeconds();
    if (!metrics.empty()) server_before = ServerCpu(metrics, timeout);
  };
  if (options.warmup == absl::ZeroDuration()) start_measuring();
  engine.Start();
  constexpr int64_t kTick = 1'000'000'000;  // the progress line's period
  int64_t last_tick = bench::SteadyNanos();
  bench::LoadProgress last_progress;
  while (true) {
    int64_t wake = last_tick + kTick;
    if (!measuring) wake = std::min(wake, engine.measure_start_ns());
    const bool done = engine.WaitUntilDone(wake);
    if (interrupted.load()) engine.Stop();
    const int64_t now = bench::SteadyNanos();
    if (!measuring && now >= engine.measure_start_ns()) start_measuring();
    if (done) break;
    if (now - last_tick < kTick) continue;
    const bench::LoadProgress current = engine.Progress();
    if (progress) {
      std::cerr << "\r"
                << bench::FormatProgress(current, last_progress,
                                         absl::Nanoseconds(now - engine.measure_start_ns()),
                                         absl::Nanoseconds(now - last_tick))
                << std::flush;
    }
    last_progress = current;
    last_tick = now;
  }
  if (progress) std::cerr << "\r\033[K" << std::flush;  // clear the progress line
  report.counts = engine.Progress();
  report.client_cpu_seconds = measuring ? CpuSeconds() - cpu_before : 0;
  if (metrics.empty()) {
    report.server_cpu_note = "pass --metrics=HOST:PORT to read it";
  } else {
    const absl::StatusOr<double> server_after = ServerCpu(metrics, timeout);
    if (server_before.ok() && server_after.ok()) {
      report.server_cpu_seconds = *server_after - *server_before;
    } else {
      report.server_cpu_note =
          std::string((server_before.ok() ? server_after : server_before).status().message());
    }
  }
  if (absl::GetFlag(FLAGS_end_sessions)) report.end_session_failures = engine.EndSessions();

  if (absl::GetFlag(FLAGS_json)) {
    std::cout << bench::ReportJson(report).dump() << "\n";
  } else {
    std::cout << bench::FormatReport(report);
  }
  std::cout.flush();
  if (report.counts.steps_answered == 0 && report.counts.steps_failed > 0) {
    return ServerRefused(absl::StatusCode::kUnavailable,
                         "every step failed; see the errors by code above");
  }
  return absl::OkStatus();
}

}  // namespace

const Command& BenchCommand() {
  static const Command* const command = new Command{
      .name = "bench",
      .synopsis =
          "bench --model NAME [--protocol native|v2] [--sessions S] [--streams K] [--steps N] "
          "[--chunk T] "
          "[--rate R] [--duration D] [--warmup W] [--json]",
      .summary =
          "Load the server: closed loop, or open loop at R requests/s; report "
          "throughput, latency, errors, CPU.",
      .details =
          "S sessions (random inputs of the model's size, or random token ids) are spread\n"
          "over K streams on --channels connections; session i always uses stream i % K, and\n"
          "each stream sends the x-session-id of its first session. A stream has one request\n"
          "in flight. Closed loop: the next request goes as soon as the last is answered.\n"
          "Open loop (--rate): request n is due at start + n/R, and its latency is measured\n"
          "from that due time even when the client sends late (no coordinated omission).\n"
          "The run counts at most --steps steps due within --duration after --warmup;\n"
          "every counted step is answered or failed (by gRPC code; DEADLINE_EXCEEDED when\n"
          "unanswered after --timeout). A progress line is shown on a terminal (stderr).\n"
          "The report gives steps/s, latency p50/p90/p99/p99.9/max per request, errors by\n"
          "code, client CPU (getrusage) and server CPU (from --metrics, else unknown);\n"
          "--json prints it as one JSON object (keys steps, errors, steps_sent,\n"
          "steps_per_second, latency_us {p50, p90, p99, p999, max, mean}, errors_by_code,\n"
          "client_cpu_seconds, server_cpu_seconds, ...). Exit code 1 when no step at all\n"
          "was answered.\n"
          "Every request carries expected_session_steps and bench recovers as a client must\n"
          "(README \"Writing your own client\"): ABORTED resends from the step named, NOT_FOUND\n"
          "restarts and replays the session (or counts it lost and starts it afresh), a\n"
          "broken stream is reopened (--max_reconnects in a row); a recovered step counts\n"
          "once. The report counts steps resent, restarts, sessions lost and reconnects\n"
          "(JSON: steps_resent, restarts, sessions_lost, reconnects).\n"
          "--protocol=v2 sends the steps through the Open Inference Protocol instead:\n"
          "inference.GRPCInferenceService/ModelStreamInfer on the same port, one stream\n"
          "carrying its sessions as Triton's sequence batcher clients do (parameters\n"
          "sequence_id = the session's string id, sequence_start on its first request,\n"
          "and rnnserve's expected_session_steps; raw_input_contents); the same load,\n"
          "recovery and report, for comparing the two paths' cost. The model is looked\n"
          "up, and the sessions ended after the run, through rnnserve.v1 as always.\n",
      .flags = {"model", "model_version", "protocol", "sessions", "streams", "channels", "steps",
                "chunk", "rate", "duration", "warmup", "json", "metrics", "seed", "end_sessions",
                "max_reconnects", "keep_steps"},
      .run = RunBench,
  };
  return *command;
}

}  // namespace rnnserve::client
