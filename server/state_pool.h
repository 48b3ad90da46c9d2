// Fixed-size float slots for session states, carved out of large contiguous
// chunks (issue 4, "Sessions"). One pool per model version: a slot holds
// LayerStack::state_size() floats.
#ifndef RNNSERVE_SERVER_STATE_POOL_H_
#define RNNSERVE_SERVER_STATE_POOL_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace rnnserve::server {

struct ModelRef;  // server/model_ref.h

// Hands out state slots to sessions. Chunks are allocated on demand, never
// moved and freed only with the pool, so a slot pointer stays valid until it
// is released; released slots are reused (newest first) through a free list
// threaded through the free slots themselves, so Release() never allocates.
// Each slot starts on a 64-byte cache line (the stride is rounded up to 16
// floats) so sessions stepped on different threads never share a line.
// Allocation happens when a session is created, never per step.
// Thread-safe: every method takes the pool's mutex. The pool must outlive
// every slot it handed out.
class StatePool {
 public:
  static constexpr int64_t kDefaultChunkBytes = int64_t{1} << 20;
  static constexpr int64_t kAlignmentBytes = 64;

  struct Options {
    int64_t slot_floats = 0;  // the model's state_size(); > 0
    int64_t max_slots = 0;    // live slots at most; > 0
    // A chunk holds chunk_bytes / stride bytes slots (at least 1, at most
    // max_slots).
    int64_t chunk_bytes = kDefaultChunkBytes;
  };

  // INVALID_ARGUMENT unless slot_floats, max_slots and chunk_bytes are > 0.
  static absl::StatusOr<std::unique_ptr<StatePool>> Create(const Options& options);

  StatePool(const StatePool&) = delete;
  StatePool& operator=(const StatePool&) = delete;
  ~StatePool();

  // A slot of slot_floats() floats with unspecified contents (the caller
  // runs LayerStack::InitState). RESOURCE_EXHAUSTED, saying the limit, when
  // max_slots() slots are live.
  absl::StatusOr<float*> Allocate() ABSL_LOCKS_EXCLUDED(mu_);
  // Returns `slot` for reuse. REQUIRES: `slot` came from Allocate() of this
  // pool and has not been released since.
  void Release(float* slot) ABSL_LOCKS_EXCLUDED(mu_);

  // The one copy of `model` that sessions of this pool point to
  // (Session::model()): equal bindings (name, version, stack, metrics) share
  // it, and it lives as long as the pool, so a session's binding costs one
  // pointer. A pool meets a handful of bindings at most (one per version in
  // the server). REQUIRES: model.pool == this.
  const ModelRef& Bind(const ModelRef& model) ABSL_LOCKS_EXCLUDED(mu_);

  int64_t slot_floats() const { return slot_floats_; }
  int64_t stride_floats() const { return stride_floats_; }
  int64_t max_slots() const { return max_slots_; }
  int64_t slots_per_chunk() const { return slots_per_chunk_; }
  // Slots handed out and not released.
  int64_t live() const ABSL_LOCKS_EXCLUDED(mu_);
  // Slots released since the pool was made: unchanged between two looks at
  // an empty pool, no session drew from it (or left it) in between.
  int64_t releases() const ABSL_LOCKS_EXCLUDED(mu_);
  // Slots in the chunks allocated so far (live + free + not yet used).
  int64_t capacity() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct AlignedDelete {
    void operator()(float* p) const;
  };
  using Chunk = std::unique_ptr<float[], AlignedDelete>;

  StatePool(int64_t slot_floats, int64_t stride_floats, int64_t max_slots, int64_t slots_per_chunk);

  const int64_t slot_floats_;
  const int64_t stride_floats_;
  const int64_t max_slots_;
  const int64_t slots_per_chunk_;

  mutable absl::Mutex mu_;
  std::vector<Chunk> chunks_ ABSL_GUARDED_BY(mu_);
  // Slots of the last chunk never handed out yet: [next_fresh_, chunk end).
  int64_t next_fresh_ ABSL_GUARDED_BY(mu_) = 0;
  // Head of the free list; each free slot starts with the next one's address.
  float* free_head_ ABSL_GUARDED_BY(mu_) = nullptr;
  int64_t live_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t releases_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::unique_ptr<const ModelRef>> bindings_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_STATE_POOL_H_
