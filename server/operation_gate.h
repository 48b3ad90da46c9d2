// Counts the operations that change sessions (steps, starts, ends, resets,
// imports) while they run, and can close: a server that hands its sessions
// to another replica (--handoff_to) first closes the gate and waits for the
// operations in flight, so the states it exports are final and no later
// change is lost behind them. Thread-safe.
#ifndef RNNSERVE_SERVER_OPERATION_GATE_H_
#define RNNSERVE_SERVER_OPERATION_GATE_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace rnnserve::server {

class OperationGate {
 public:
  // OK: the operation may run and must call Exit() when done. UNAVAILABLE
  // once the gate is closed: the operation must not touch any session.
  absl::Status Enter() ABSL_LOCKS_EXCLUDED(mu_);
  void Exit() ABSL_LOCKS_EXCLUDED(mu_);

  // Refuses every later Enter() and waits until the operations in flight
  // have exited; false if some are still running at `deadline`.
  bool CloseAndWait(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  int64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_OPERATION_GATE_H_
