#include "client/bench/bench_report.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/errors.h"

namespace rnnserve::client::bench {
namespace {

// "412 us", "1.52 ms", "2.01 s": three significant figures.
std::string Latency(double micros) {
  if (micros < 1000) return absl::StrFormat("%.3g us", micros);
  if (micros < 1e6) return absl::StrFormat("%.3g ms", micros / 1e3);
  return absl::StrFormat("%.3g s", micros / 1e6);
}

std::string ErrorsByCode(const LoadProgress& counts) {
  if (counts.failed_steps_by_code.empty()) return "none";
  std::vector<std::string> parts;
  for (const auto& [code, steps] : counts.failed_steps_by_code) {
    parts.push_back(absl::StrCat(CodeName(code), " ", steps));
  }
  return absl::StrJoin(parts, ", ");
}

}  // namespace

double StepsPerSecond(const LoadProgress& counts) {
  const double seconds = absl::ToDoubleSeconds(counts.elapsed);
  return seconds > 0 ? static_cast<double>(counts.steps_answered) / seconds : 0;
}

std::string FormatReport(const BenchReport& r) {
  const LoadProgress& c = r.counts;
  const HistogramSnapshot& l = c.latency;
  const double seconds = absl::ToDoubleSeconds(c.elapsed);
  std::string out = absl::StrCat(
      "bench: ", r.protocol == "v2" ? "v2 ModelStreamInfer, " : "", "model ", r.model, " version ",
      r.model_version, " (", r.input, "), ", r.sessions, " sessions on ", r.streams,
      " streams over ", r.channels, r.channels == 1 ? " channel, " : " channels, ",
      r.rate > 0 ? absl::StrFormat("open loop at %g requests/s", r.rate) : "closed loop",
      ", chunk ", r.chunk, "\n");
  absl::StrAppend(&out, "steps:       ", c.steps_sent, " sent = ", c.steps_answered, " answered + ",
                  c.steps_failed, " failed  (", c.requests_sent, " requests)\n");
  absl::StrAppend(&out, "time:        ", absl::StrFormat("%.3f s", seconds),
                  r.warmup > absl::ZeroDuration()
                      ? absl::StrCat(" after ", absl::FormatDuration(r.warmup), " of warmup")
                      : "",
                  "\n");
  absl::StrAppend(&out, "throughput:  ", absl::StrFormat("%.0f steps/s", StepsPerSecond(c)), "\n");
  absl::StrAppend(&out, "latency:     per request of ", r.chunk, r.chunk == 1 ? " step" : " steps",
                  r.rate > 0 ? ", from its intended send time" : ", from send to response",
                  "\n             p50 ", Latency(l.QuantileMicros(0.5)), "  p90 ",
                  Latency(l.QuantileMicros(0.9)), "  p99 ", Latency(l.QuantileMicros(0.99)),
                  "  p99.9 ", Latency(l.QuantileMicros(0.999)), "  max ", Latency(l.MaxMicros()),
                  "  mean ", Latency(l.MeanMicros()), "\n");
  absl::StrAppend(&out, "errors:      ", ErrorsByCode(c), "\n");
  absl::StrAppend(&out, "recovery:    ", c.steps_resent, " steps resent, ", c.restarts,
                  " restarts, ", c.sessions_lost, " sessions lost, ", c.reconnects,
                  " reconnects\n");
  absl::StrAppend(&out, "client CPU:  ",
                  absl::StrFormat("%.2f s (%.2f cores)", r.client_cpu_seconds,
                                  seconds > 0 ? r.client_cpu_seconds / seconds : 0),
                  "\n");
  absl::StrAppend(&out, "server CPU:  ",
                  r.server_cpu_seconds.has_value()
                      ? absl::StrFormat("%.2f s (%.2f cores)", *r.server_cpu_seconds,
                                        seconds > 0 ? *r.server_cpu_seconds / seconds : 0)
                      : absl::StrCat("unknown (", r.server_cpu_note, ")"),
                  "\n");
  if (r.end_session_failures > 0) {
    absl::StrAppend(&out, "warning:     ", r.end_session_failures,
                    " sessions could not be ended; they expire on the server when idle\n");
  }
  return out;
}

nlohmann::json ReportJson(const BenchReport& r) {
  const LoadProgress& c = r.counts;
  const HistogramSnapshot& l = c.latency;
  nlohmann::json errors = nlohmann::json::object();
  for (const auto& [code, steps] : c.failed_steps_by_code) errors[CodeName(code)] = steps;
  nlohmann::json json = {
      {"steps", c.steps_answered},
      {"errors", c.steps_failed},
      {"steps_sent", c.steps_sent},
      {"requests_sent", c.requests_sent},
      {"requests_answered", c.requests_answered},
      {"errors_by_code", errors},
      {"steps_resent", c.steps_resent},
      {"restarts", c.restarts},
      {"sessions_lost", c.sessions_lost},
      {"reconnects", c.reconnects},
      {"steps_per_second", StepsPerSecond(c)},
      {"duration_seconds", absl::ToDoubleSeconds(c.elapsed)},
      {"latency_us",
       {{"p50", l.QuantileMicros(0.5)},
        {"p90", l.QuantileMicros(0.9)},
        {"p99", l.QuantileMicros(0.99)},
        {"p999", l.QuantileMicros(0.999)},
        {"max", l.MaxMicros()},
        {"mean", l.MeanMicros()}}},
      {"client_cpu_seconds", r.client_cpu_seconds},
      {"server_cpu_seconds", r.server_cpu_seconds.has_value()
                                 ? nlohmann::json(*r.server_cpu_seconds)
                                 : nlohmann::json(nullptr)},
      {"protocol", r.protocol},
      {"model", r.model},
      {"model_version", r.model_version},
      {"mode", r.rate > 0 ? "open" : "closed"},
      {"rate", r.rate},
      {"sessions", r.sessions},
      {"streams", r.streams},
      {"channels", r.channels},
      {"chunk", r.chunk},
      {"warmup_seconds", absl::ToDoubleSeconds(r.warmup)},
      {"end_session_failures", r.end_session_failures},
  };
  return json;
}

std::string FormatProgress(const LoadProgress& now, const LoadProgress& before,
                           absl::Duration since_start, absl::Duration interval) {
  const HistogramSnapshot recent = now.latency.Since(before.latency);
  const double seconds = absl::ToDoubleSeconds(interval);
  const double rate =
      seconds > 0 ? static_cast<double>(now.steps_answered - before.steps_answered) / seconds : 0;
  const std::string when = since_start < absl::ZeroDuration()
                               ? std::string("[ warmup]")
                               : absl::StrFormat("[%6.1fs]", absl::ToDoubleSeconds(since_start));
  return absl::StrFormat("%s %9.0f steps/s  p50 %-9s p99 %-9s errors %d", when, rate,
                         Latency(recent.QuantileMicros(0.5)), Latency(recent.QuantileMicros(0.99)),
                         now.steps_failed);
}

}  // namespace rnnserve::client::bench
