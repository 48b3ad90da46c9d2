#include "server/stream_drain.h"

namespace rnnserve::server {

StreamDrain::Mode StreamDrain::Register(Drainable* stream) {
  absl::MutexLock lock(&mu_);
  if (mode_ != Mode::kDraining) streams_.insert(stream);
  return mode_;
}

void StreamDrain::Unregister(Drainable* stream) {
  absl::MutexLock lock(&mu_);
  streams_.erase(stream);
}

// Both under mu_, so no stream can unregister (and be deleted) meanwhile.
// Hold() and Drain() only flip a flag or finish the call; they never wait.
void StreamDrain::HoldAll() {
  absl::MutexLock lock(&mu_);
  if (mode_ != Mode::kServing) return;
  mode_ = Mode::kHolding;
  for (Drainable* stream : streams_) stream->Hold();
}

void StreamDrain::DrainAll() {
  absl::MutexLock lock(&mu_);
  mode_ = Mode::kDraining;
  for (Drainable* stream : streams_) stream->Drain();
}

}  // namespace rnnserve::server
