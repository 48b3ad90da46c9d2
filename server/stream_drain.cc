#include "server/stream_drain.h"

namespace rnnserve::server {

bool StreamDrain::Register(Drainable* stream) {
  absl::MutexLock lock(&mu_);
  if (draining_) return false;
  streams_.insert(stream);
  return true;
}

void StreamDrain::Unregister(Drainable* stream) {
  absl::MutexLock lock(&mu_);
  streams_.erase(stream);
}

void StreamDrain::DrainAll() {
  absl::MutexLock lock(&mu_);
  draining_ = true;
  // Under mu_, so no stream can unregister (and be deleted) meanwhile.
  // Drain() only flips a flag or finishes the call; it never waits.
  for (Drainable* stream : streams_) stream->Drain();
}

}  // namespace rnnserve::server
