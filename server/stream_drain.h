// Lets a graceful shutdown end the open step streams. A stream may live as
// long as its sessions, so waiting for clients to close them would always run
// into the drain deadline (and cut steps mid-flight). Instead Shutdown() calls
// DrainAll(): each stream answers the step it is running, then finishes with
// UNAVAILABLE instead of reading the next one. A server that moves its
// sessions to another replica first calls HoldAll(): streams answer the step
// they are running but step nothing more, and stay open until DrainAll(), so
// a client learns its stream is over only once its session has moved.
// Thread-safe.
// Lock order: StreamDrain::mu_, then the stream's own lock.
#ifndef RNNSERVE_SERVER_STREAM_DRAIN_H_
#define RNNSERVE_SERVER_STREAM_DRAIN_H_

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"

namespace rnnserve::server {

class Drainable {
 public:
  virtual ~Drainable() = default;
  // Step nothing more (a request read later gets no answer); stay open.
  virtual void Hold() = 0;
  // Finish once nothing is in flight.
  virtual void Drain() = 0;
};

class StreamDrain {
 public:
  enum class Mode { kServing, kHolding, kDraining };

  // Adds `stream` (not owned; it unregisters before it dies) and says what
  // it must do from the start: under kHolding it holds itself; under
  // kDraining it is not added and finishes itself at once.
  Mode Register(Drainable* stream) ABSL_LOCKS_EXCLUDED(mu_);
  void Unregister(Drainable* stream) ABSL_LOCKS_EXCLUDED(mu_);
  // Holds every registered stream and every one that registers later.
  void HoldAll() ABSL_LOCKS_EXCLUDED(mu_);
  // Drains every registered stream and every one that registers later.
  void DrainAll() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::Mutex mu_;
  Mode mode_ ABSL_GUARDED_BY(mu_) = Mode::kServing;
  absl::flat_hash_set<Drainable*> streams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_STREAM_DRAIN_H_
