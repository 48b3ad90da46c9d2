// Cancels a call when one answer takes longer than --timeout. A stream lives
// as long as its input (stdin may be typed by hand), so a gRPC deadline on
// the whole call would be wrong; what the user bounds is the wait for each
// response. Arm() before waiting, Disarm() after; thread-safe. Owns one
// thread, joined by the destructor; none when the timeout is zero/infinite.
#ifndef RNNSERVE_CLIENT_ANSWER_WATCHDOG_H_
#define RNNSERVE_CLIENT_ANSWER_WATCHDOG_H_

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"

namespace rnnserve::client {

class AnswerWatchdog {
 public:
  // `context` is not owned and outlives the watchdog.
  AnswerWatchdog(grpc::ClientContext* context, absl::Duration timeout);
  ~AnswerWatchdog();
  AnswerWatchdog(const AnswerWatchdog&) = delete;
  AnswerWatchdog& operator=(const AnswerWatchdog&) = delete;

  void Arm();
  void Disarm();
  // True once the watchdog cancelled the call.
  bool fired() const;

 private:
  void Watch();

  grpc::ClientContext* const context_;
  const absl::Duration timeout_;
  mutable absl::Mutex mu_;
  bool armed_ ABSL_GUARDED_BY(mu_) = false;
  int64_t generation_ ABSL_GUARDED_BY(mu_) = 0;  // bumped by every Arm and Disarm
  absl::Time deadline_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool fired_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace rnnserve::client

#endif  // RNNSERVE_CLIENT_ANSWER_WATCHDOG_H_
