// Lets a graceful shutdown end the open step streams. A stream may live as
// long as its sessions, so waiting for clients to close them would always run
// into the drain deadline (and cut steps mid-flight). Instead Shutdown() calls
// DrainAll(): each stream answers the step it is running, then finishes with
// UNAVAILABLE instead of reading the next one. Thread-safe.
// Lock order: StreamDrain::mu_, then the stream's own lock.
#ifndef RNNSERVE_SERVER_STREAM_DRAIN_H_
#define RNNSERVE_SERVER_STREAM_DRAIN_H_

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"

namespace rnnserve::server {

// What a stream does when told to drain: finish once nothing is in flight.
class Drainable {
 public:
  virtual ~Drainable() = default;
  virtual void Drain() = 0;
};

class StreamDrain {
 public:
  // Adds `stream` (not owned; it unregisters before it dies). False once
  // draining: the caller drains itself instead.
  bool Register(Drainable* stream) ABSL_LOCKS_EXCLUDED(mu_);
  void Unregister(Drainable* stream) ABSL_LOCKS_EXCLUDED(mu_);
  // Drains every registered stream and every one that registers later.
  void DrainAll() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::Mutex mu_;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<Drainable*> streams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_STREAM_DRAIN_H_
