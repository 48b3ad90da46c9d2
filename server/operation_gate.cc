#include "server/operation_gate.h"

namespace rnnserve::server {

absl::Status OperationGate::Enter() {
  absl::MutexLock lock(&mu_);
  if (closed_) {
    return absl::UnavailableError(
        "the server is shutting down and moving its sessions to another replica; nothing "
        "was applied: retry (through the proxy) in a moment");
  }
  ++in_flight_;
  return absl::OkStatus();
}

void OperationGate::Exit() {
  absl::MutexLock lock(&mu_);
  --in_flight_;
}

bool OperationGate::CloseAndWait(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return in_flight_ == 0; };
  return mu_.AwaitWithDeadline(absl::Condition(&idle), deadline);
}

}  // namespace rnnserve::server
