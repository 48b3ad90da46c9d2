// One session's record of what a client sent and what the server answered,
// deciding what to send again after a failure (README "Writing your own
// client: resending after a crash"). Every request carries the session's
// steps before it (expected_session_steps); the server refuses one whose
// session stands elsewhere with ABORTED and where it stands (N), so the
// client sends the steps after N again. Inputs are kept from the session's
// start while it is short (at most `max_kept_steps`), so a session the
// server lost can be started again and replayed; past that, only the ones
// after the last checkpoint (durable_steps), and never more than
// `max_kept_steps` answered steps.
//
// Pure logic: no I/O, no clock; the caller owns the inputs (named by a
// handle) and the sending. Not thread-safe: one owner per session.
#ifndef RNNSERVE_CLIENT_RESEND_WINDOW_H_
#define RNNSERVE_CLIENT_RESEND_WINDOW_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace rnnserve::client {

// A request to send (or send again): `steps` steps of the caller's input
// chunk `input`, from step `skip` of that chunk on.
struct PendingRequest {
  uint64_t input = 0;
  int64_t skip = 0;
  int64_t steps = 0;
  int64_t expected_session_steps = 0;
  bool start = false;   // (re)start the session: the first request, or a replay's
  uint64_t ticket = 0;  // names this sending in its outcome
};

// What the caller does next.
struct WindowAction {
  enum class Kind {
    kDeliver,  // an answer: show the rows of steps after `delivered_before`
    kIgnore,   // an outcome of a request already given up (sent again since)
    kResend,   // send `requests`, in order, instead of everything in flight
    kRestart,  // the same, the first one starting the session anew: a replay
    kLost,     // the session cannot be recovered: report `reason`
    kFail,     // not a session problem (e.g. NOT_FOUND of a start): report the error
  };
  Kind kind = Kind::kIgnore;
  int64_t delivered_before = 0;
  std::vector<PendingRequest> requests;
  std::string reason;  // kResend / kRestart / kLost: what happened, for messages
};

class ResendWindow {
 public:
  enum class Origin { kStarted, kContinued };
  // kStarted: the first request starts the session (every input from step 0
  // on is the client's); kContinued: the session stands at `session_steps`
  // from before, so it can never be replayed. REQUIRES: max_kept_steps >= 1.
  ResendWindow(Origin origin, int64_t session_steps, int64_t max_kept_steps);

  // Records a new request of `steps` steps of input `input` and says how to
  // send it. REQUIRES: steps >= 1.
  PendingRequest Send(uint64_t input, int64_t steps);

  // The request `ticket` was answered: the session stands at `session_steps`
  // after it, `durable_steps` are checkpointed. kDeliver; kIgnore for a
  // stale ticket; kRestart / kLost when the answer is not where the request
  // expected it (the server did not check the expectation).
  WindowAction OnAnswer(uint64_t ticket, int64_t session_steps, int64_t durable_steps);
  // The request `ticket` was refused ABORTED with the session standing at
  // `session_steps` (nullopt when the server did not say: sent again as is).
  WindowAction OnAborted(uint64_t ticket, std::optional<int64_t> session_steps);
  // The request `ticket` was refused NOT_FOUND: the server lost the session.
  WindowAction OnNotFound(uint64_t ticket);
  // The request `ticket` failed and nothing of it was applied
  // (RESOURCE_EXHAUSTED, INVALID_ARGUMENT): it is forgotten, and the
  // requests sent after it count its steps no more (they will be refused
  // ABORTED at the count without it, and sent again).
  void OnRefused(uint64_t ticket);
  // The stream broke or the session moved (UNAVAILABLE): whatever is in
  // flight is sent again with the same expectations. Always kResend.
  WindowAction OnBroken(std::string reason);

  int64_t answered_steps() const { return answered_; }  // where the session stands, as known
  int64_t sent_steps() const { return sent_; }          // ... after what is in flight
  int64_t durable_steps() const { return durable_; }
  int64_t delivered_steps() const { return delivered_; }  // outputs shown up to here
  int64_t kept_steps() const { return kept_steps_; }
  // Whether every input from step 0 on is kept (a replay is possible).
  bool complete() const { return complete_; }
  // The oldest input handle still needed; older ones may be freed.
  std::optional<uint64_t> oldest_input() const;

 private:
  // Steps (first, first + steps] of the session, from step `skip` of input `input`.
  struct Entry {
    int64_t first = 0;
    int64_t steps = 0;
    uint64_t input = 0;
    int64_t skip = 0;
    uint64_t ticket = 0;  // of its latest sending
    bool answered = false;
    bool start = false;
  };

  Entry* InFlight(uint64_t ticket);
  // Every entry from step `from` on (splitting the one it falls in) becomes
  // unanswered with a new ticket; those are the requests to send.
  std::vector<PendingRequest> SendAgainFrom(int64_t from);
  // Replay from step 0 when every input is kept, else lost.
  WindowAction RestartOrLose(std::string why);
  void Trim();

  const int64_t max_kept_steps_;
  std::deque<Entry> entries_;  // contiguous, oldest first
  int64_t kept_steps_ = 0;
  int64_t answered_ = 0;
  int64_t sent_ = 0;
  int64_t durable_ = 0;
  int64_t delivered_ = 0;
  bool complete_ = false;
  bool next_starts_ = false;  // the next Send starts the session
  uint64_t next_ticket_ = 1;
};

}  // namespace rnnserve::client

#endif  // RNNSERVE_CLIENT_RESEND_WINDOW_H_
