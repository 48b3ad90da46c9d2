#include "server/operation_gate.h"

namespace rnnserve::server {

absl::Status OperationGate::Enter() {
  if ((state_.fetch_add(1, std::memory_order_acq_rel) & kClosed) != 0) {
    Exit();  // Counted for a moment; a waiter may need the wake-up.
    return absl::UnavailableError(
        "the server is shutting down and moving its sessions to another replica; nothing "
        "was applied: retry (through the proxy) in a moment");
  }
  return absl::OkStatus();
}

void OperationGate::Exit() {
  if ((state_.fetch_sub(1, std::memory_order_acq_rel) & kClosed) != 0) {
    absl::MutexLock lock(&mu_);  // Releasing it makes CloseAndWait re-read state_.
  }
}

bool OperationGate::CloseAndWait(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  state_.fetch_or(kClosed, std::memory_order_acq_rel);
  auto idle = [this] { return state_.load(std::memory_order_acquire) == kClosed; };
  return mu_.AwaitWithDeadline(absl::Condition(&idle), deadline);
}

}  // namespace rnnserve::server
