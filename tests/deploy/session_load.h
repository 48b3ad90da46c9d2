// Load for the cluster tests: many sessions stepped through a proxy on
// streams, each by the client protocol of README "Sessions across replicas"
// (client::ResendWindow, as rnnserve-cli stream and bench use it): every step
// carries expected_session_steps; ABORTED sends the steps after the
// session's count again, UNAVAILABLE and broken streams send the unanswered
// step again on a new stream, NOT_FOUND replays from the start. Every answer
// is checked against a single server's RunSequence of the same inputs
// (1e-5) and its session_steps, and everything the protocol had to do is
// counted, so a test can say which of it must not happen.
//
// One request in flight per session; `threads` threads each step their
// sessions in turn. A stream carries at most `steps_per_stream` answers, then
// is closed and opened again (new streams follow the proxy's ring, so
// sessions move when replicas come and go). Thread-safe: the counters may be
// read while Run() runs.
#ifndef RNNSERVE_TESTS_DEPLOY_SESSION_LOAD_H_
#define RNNSERVE_TESTS_DEPLOY_SESSION_LOAD_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "rnnserve/v1/inference.grpc.pb.h"

namespace rnnserve::testing {

struct LoadOptions {
  std::string id_prefix = "load";
  std::string model = "forecast";  // one float in, one out per step
  int sessions = 300;
  int threads = 20;
  int max_steps = 300;  // inputs per session: how far a session can go
  // Inputs Run() leaves unused while a disruption runs, so that RunMore()
  // afterwards can step every session, however fast it went meanwhile.
  int kept_for_more = 8;
  int steps_per_stream = 8;
  // Each client thread rests this long after a round over its sessions:
  // bounds the load's rate, for scenarios that must outlast a disruption.
  absl::Duration pause_between_rounds = absl::ZeroDuration();
  // A stream not done by then is cancelled (DEADLINE_EXCEEDED): a client's
  // answer timeout, which gets sessions off a replica that stopped answering.
  // A stream past half of it is closed and opened again before its next
  // step, so that every step has at least half of it to be answered in.
  absl::Duration stream_deadline = absl::Seconds(60);
  uint32_t seed = 7;
};

// What the clients saw, over every session.
struct LoadCounts {
  int64_t answers = 0;         // every OK answer, resent steps' included
  int64_t new_steps = 0;       // answers of steps never answered before
  int64_t resent_steps = 0;    // answers of steps answered before (sent again)
  int64_t aborted = 0;         // ABORTED answers (the session stood elsewhere)
  int64_t lost_steps = 0;      // sum over ABORTED of (answered - session_steps)
  int64_t max_lost = 0;        // the most steps one ABORTED took back
  int64_t restarts = 0;        // replays from the start (server ahead / NOT_FOUND)
  int64_t not_found = 0;       // NOT_FOUND answers
  int64_t moved = 0;           // UNAVAILABLE answers (session moved, draining)
  int64_t broken_streams = 0;  // streams that ended with an error mid-step
  int64_t opens = 0;           // streams opened
  int64_t events = 0;          // Events() so far
};

class SessionLoad {
 public:
  // Makes every session's inputs (a fixed seed) and their expected outputs
  // from RunSequence on `reference` (a server that never moves a session).
  static absl::StatusOr<std::unique_ptr<SessionLoad>> Create(
      const LoadOptions& options, const std::shared_ptr<grpc::Channel>& reference);
  ~SessionLoad();

  // Steps the sessions through `proxy` until each has `until` steps
  // answered. `during` (if set) runs on a thread of its own meanwhile, and
  // while it runs sessions go on past `until` (up to max_steps -
  // kept_for_more), so the load lasts as long as the disruption. Bounded by
  // `limit`; a session the protocol cannot carry on is given up (a failure).
  // Streams are closed at the end. Returns the failures (wrong answer, wrong steps, an error that
  // is no part of the protocol), at most 20.
  std::vector<std::string> Run(const std::shared_ptr<grpc::Channel>& proxy, int until,
                               const std::function<void()>& during = nullptr,
                               absl::Duration limit = absl::Minutes(2));

  // Steps every session `more` steps past where it stands now, on new
  // streams: after the proxy changed, each session then is where the ring
  // sends it (a session that last stepped elsewhere is pulled, as a real
  // client's next step pulls it). Failures as Run(); a session without
  // `more` inputs left is one (it could not be stepped).
  std::vector<std::string> RunMore(const std::shared_ptr<grpc::Channel>& proxy, int more,
                                   absl::Duration limit = absl::Minutes(1));

  LoadCounts Counts() const;
  // Waits until at least `answers` answers were counted or `timeout` passed;
  // whether they were.
  bool WaitForAnswers(int64_t answers, absl::Duration timeout) const;
  // Streams that ended with an error, by gRPC status code and message.
  std::map<std::string, int64_t> BrokenStreamsByStatus() const;
  // What the protocol had to do, session by session (ABORTED, NOT_FOUND,
  // replays), from event `from` on (the first 1000 in all), with the time and
  // the server's message: to find them in the replicas' logs.
  std::vector<std::string> Events(int64_t from = 0) const;

  int sessions() const { return static_cast<int>(sessions_.size()); }
  const std::string& id(int session) const;
  // Steps session `session` has answers for now (where it stands, as its client knows).
  int64_t answered(int session) const;
  // OK answers session `session` got so far (grows with every answer).
  int64_t answers(int session) const;
  // Streams opened for session `session` so far.
  int64_t opens(int session) const;
  // The last durable_steps session `session` was told (its checkpoint).
  int64_t durable(int session) const;

 private:
  struct Session;
  explicit SessionLoad(LoadOptions options);
  void StepOnce(Session& s, v1::InferenceService::Stub& stub);
  void Fail(Session& s, const std::string& what);
  void Broken(const grpc::Status& status);
  void Event(const Session& s, const std::string& what);

  const LoadOptions options_;
  std::vector<std::unique_ptr<Session>> sessions_;
  std::atomic<int64_t> answers_{0}, new_steps_{0}, resent_steps_{0}, aborted_{0}, lost_steps_{0},
      max_lost_{0}, restarts_{0}, not_found_{0}, moved_{0}, broken_streams_{0}, opens_{0};
  mutable absl::Mutex mu_;
  std::vector<std::string> failures_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> broken_by_status_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> events_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rnnserve::testing

#endif  // RNNSERVE_TESTS_DEPLOY_SESSION_LOAD_H_
