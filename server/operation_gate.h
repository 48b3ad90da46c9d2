// Counts the operations that change sessions (steps, starts, ends, resets,
// imports) while they run, and can close: a server that hands its sessions
// to another replica (--handoff_to) first closes the gate and waits for the
// operations in flight, so the states it exports are final and no later
// change is lost behind them. Every step passes it, so Enter and Exit are one
// atomic operation each while the gate is open; only closing takes a lock.
// Thread-safe.
#ifndef RNNSERVE_SERVER_OPERATION_GATE_H_
#define RNNSERVE_SERVER_OPERATION_GATE_H_

#include <atomic>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace rnnserve::server {

class OperationGate {
 public:
  // OK: the operation may run and must call Exit() when done. UNAVAILABLE
  // once the gate is closed: the operation must not touch any session.
  absl::Status Enter();
  void Exit();

  // Refuses every later Enter() and waits until the operations in flight
  // have exited; false if some are still running at `deadline`.
  bool CloseAndWait(absl::Time deadline);

 private:
  // The top bit says closed; the rest count the operations in flight.
  static constexpr int64_t kClosed = int64_t{1} << 62;
  std::atomic<int64_t> state_{0};
  // Only for CloseAndWait to sleep on: an Exit after the close takes it, so
  // the waiter re-reads state_.
  absl::Mutex mu_;
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_OPERATION_GATE_H_
