// Runs callbacks at given steady-clock times, for bench's open loop: each
// stream asks to be woken at the intended send time of its next request.
// One thread with 1 ns timer slack; gRPC's own timers (grpc::Alarm) fire on
// a millisecond grid, which at high rates would add up to a millisecond to
// latencies measured from the intended send time. Thread-safe; the
// destructor runs what is still pending at once, then joins the thread.
#ifndef RNNSERVE_CLIENT_BENCH_PACER_H_
#define RNNSERVE_CLIENT_BENCH_PACER_H_

#include <cstdint>
#include <queue>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace rnnserve::client::bench {

// Nanoseconds on std::chrono::steady_clock.
int64_t SteadyNanos();

class Pacer {
 public:
  Pacer();
  ~Pacer();
  Pacer(const Pacer&) = delete;
  Pacer& operator=(const Pacer&) = delete;

  // Runs `callback` on the pacer's thread at `when_ns` (SteadyNanos time), or
  // at once when that has passed or the pacer is being destroyed. Callbacks
  // run one at a time and must not block.
  void At(int64_t when_ns, absl::AnyInvocable<void() &&> callback);
  // From now on runs every callback at once, whatever its time.
  void Flush();

 private:
  struct Entry {
    int64_t when_ns;
    uint64_t order;  // FIFO among equal times
    mutable absl::AnyInvocable<void() &&> callback;
    bool operator>(const Entry& other) const {
      return when_ns != other.when_ns ? when_ns > other.when_ns : order > other.order;
    }
  };
  void Loop();

  absl::Mutex mu_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t next_order_ ABSL_GUARDED_BY(mu_) = 0;
  bool flush_ ABSL_GUARDED_BY(mu_) = false;  // run everything at once
  bool exit_ ABSL_GUARDED_BY(mu_) = false;   // and return once the queue is empty
  std::thread thread_;
};

}  // namespace rnnserve::client::bench

#endif  // RNNSERVE_CLIENT_BENCH_PACER_H_
