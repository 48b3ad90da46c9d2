// bench's load engine: S sessions stepped over K bidirectional streams on C
// channels with gRPC's callback API, closed loop or open loop at a fixed
// request rate. The streams are rnnserve.v1 StreamSteps, or with
// StepProtocol::kV2 the Open Inference Protocol's ModelStreamInfer; what
// differs is a "wire" (step_wire.h), the rest is this one engine. Sessions are
// ended through rnnserve.v1 EndSession either way (a v2 sequence_end would
// have to carry one more step).
//
// Session i lives on stream i % K for the whole run (a proxy hashing the
// stream's x-session-id header, the id of its first session, keeps it on one
// replica), and its first step starts it. Each stream keeps one request in
// flight, taking its sessions in turn: the server handles a stream's
// requests one at a time anyway, so K is the concurrency.
//
// Closed loop: a stream sends its next request as soon as the previous one is
// answered; latency runs from send to response. Open loop (rate R): request n
// of the whole run is due at start + n/R (stream n % K); a stream that is
// still waiting for an answer sends late, and latency still runs from the
// request's *intended* send time, so a slow server cannot hide its stalls by
// slowing the client down (no coordinated omission).
//
// Requests due in the first `warmup` are sent but not counted. Counted are
// at most `steps` steps (0: unbounded) due within `duration` after warmup
// (0: unbounded); every counted step ends either answered or failed, by its
// response's error code, the stream's status, or DEADLINE_EXCEEDED when no
// answer came within `timeout`.
//
// Every request carries expected_session_steps and each session keeps its
// inputs in a ResendWindow (client/resend_window.h), so bench survives a
// replica crash as a real client must: ABORTED(N) sends the steps after N
// again, NOT_FOUND restarts the session and replays it (or counts it lost
// and starts it afresh), a broken stream (UNAVAILABLE) is reopened after a
// short backoff, at most `max_reconnects` times in a row, and its
// unanswered request sent again. A counted step sent again still counts
// once, answered or failed, its latency covering the recovery. Thread-safe.
#ifndef RNNSERVE_CLIENT_BENCH_LOAD_ENGINE_H_
#define RNNSERVE_CLIENT_BENCH_LOAD_ENGINE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/bench/latency_histogram.h"
#include "client/bench/pacer.h"
#include "client/bench/step_wire.h"
#include "client/channel.h"
#include "client/resend_window.h"
#include "grpcpp/channel.h"
#include "rnnserve/v1/models.pb.h"

namespace rnnserve::client::bench {

// The API the steps go through.
enum class StepProtocol {
  kNative,  // rnnserve.v1 InferenceService.StreamSteps
  kV2,      // the Open Inference Protocol's ModelStreamInfer (v2_step_wire.h)
};

struct LoadOptions {
  StepProtocol protocol = StepProtocol::kNative;
  Connection connection;  // the server, TLS, token
  v1::ModelInfo model;    // as DescribeModel returned it: sizes of the random inputs
  int sessions = 64;
  int streams = 8;          // REQUIRES: 1 <= streams <= sessions
  int channels = 1;         // REQUIRES: 1 <= channels <= streams
  int chunk = 1;            // steps per request
  int64_t steps = 10000;    // counted steps to send; 0: no bound
  double rate = 0;          // requests per second over all streams; 0: closed loop
  absl::Duration duration;  // counted window after warmup; zero: no bound
  absl::Duration warmup;
  absl::Duration timeout = absl::Seconds(10);  // longest wait for one answer
  uint64_t seed = 1;                           // of the random inputs
  int max_reconnects = 10;                     // recoveries in a row on a stream before giving up
  int64_t keep_steps = 10000;                  // inputs kept per session (ResendWindow's bound)
};

// Counts at one moment, for the live progress line and the report. Steps,
// not requests: with --chunk T a request carries T steps.
struct LoadProgress {
  int64_t steps_sent = 0;
  int64_t steps_answered = 0;
  int64_t steps_failed = 0;
  int64_t requests_sent = 0;
  int64_t requests_answered = 0;
  std::map<int, int64_t> failed_steps_by_code;  // google.rpc.Code -> steps
  // Recovery from a server that lost steps or went away (not in steps_sent).
  int64_t steps_resent = 0;   // steps sent more than once
  int64_t restarts = 0;       // sessions started again and replayed
  int64_t sessions_lost = 0;  // sessions that could not be recovered (started afresh)
  int64_t reconnects = 0;     // streams reopened after UNAVAILABLE
  HistogramSnapshot latency;                    // one sample per answered request
  absl::Duration elapsed;  // from the end of warmup to the last counted outcome
};

class LoadEngine {
 public:
  explicit LoadEngine(LoadOptions options);
  // REQUIRES: Done().
  ~LoadEngine();
  LoadEngine(const LoadEngine&) = delete;
  LoadEngine& operator=(const LoadEngine&) = delete;

  // Opens the streams; sending starts at once. Call once.
  void Start();
  // When the counted window starts (Start + warmup), on SteadyNanos' clock.
  int64_t measure_start_ns() const { return measure_start_ns_; }
  // Waits until every stream has ended or `deadline_ns` (SteadyNanos)
  // passes, cancelling streams whose answer is overdue; true when all ended.
  bool WaitUntilDone(int64_t deadline_ns);
  // Stops sending new requests (Ctrl-C); the ones in flight are still awaited.
  void Stop();
  LoadProgress Progress() const;
  // Ends every session that was started, at most 128 calls at a time; returns
  // how many EndSession calls failed. REQUIRES: all streams ended.
  int64_t EndSessions();

 private:
  // A stream's reactor, typed by its protocol's wire (step_wire.h).
  class StreamControl;
  template <typename Wire>
  class Stream;
  // Touched only by its stream.
  struct Session {
    std::string id;
    bool started = false;  // answered at least once: EndSessions ends it
    std::optional<ResendWindow> window;
    std::deque<PendingRequest> resend;  // sent before its next new request
  };

  bool open_loop() const { return options_.rate > 0; }
  // Up to `want` steps of the --steps budget; 0 when it is spent.
  int ClaimSteps(int want);
  // Steps [skip, skip + steps) of input `index` of the random pool.
  StepInput InputOf(uint64_t index, int64_t skip, int64_t steps) const;
  void RecordAnswer(int steps, int64_t latency_ns, int64_t now_ns);
  void RecordFailure(int steps, int code, int64_t now_ns);
  void StreamEnded();

  const LoadOptions options_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<Session> sessions_;
  std::vector<std::vector<float>> float_inputs_;  // the random pool, one chunk each
  std::vector<std::vector<int64_t>> token_inputs_;
  std::vector<std::unique_ptr<StreamControl>> streams_;
  std::unique_ptr<Pacer> pacer_;  // open loop only

  int64_t start_ns_ = 0;
  int64_t measure_start_ns_ = 0;
  int64_t end_ns_ = 0;  // no request is due at or after it
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> budget_{0};

  std::atomic<int64_t> steps_sent_{0};
  std::atomic<int64_t> steps_answered_{0};
  std::atomic<int64_t> requests_sent_{0};
  std::atomic<int64_t> requests_answered_{0};
  std::array<std::atomic<int64_t>, 17> failed_steps_{};  // by google.rpc.Code
  std::atomic<int64_t> steps_resent_{0};
  std::atomic<int64_t> restarts_{0};
  std::atomic<int64_t> sessions_lost_{0};
  std::atomic<int64_t> reconnects_{0};
  std::atomic<int64_t> last_outcome_ns_{0};
  LatencyHistogram latency_;

  mutable absl::Mutex mu_;
  int live_streams_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace rnnserve::client::bench

#endif  // RNNSERVE_CLIENT_BENCH_LOAD_ENGINE_H_
