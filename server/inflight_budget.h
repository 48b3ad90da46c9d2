// A byte budget for the work in flight (issue 20): every step, chunk and
// whole-sequence request reserves what it will allocate (its input, its
// outputs, its answer) before it queues, and gives it back once its answer
// is handed to gRPC. A reservation past the budget is refused at once rather
// than waited for: reactions on gRPC's callback threads must not block, and
// a client that retries later (or sends smaller chunks) sees the refusal in
// microseconds instead of after a queue. Thread-safe: one atomic counter.
#ifndef RNNSERVE_SERVER_INFLIGHT_BUDGET_H_
#define RNNSERVE_SERVER_INFLIGHT_BUDGET_H_

#include <atomic>
#include <cstdint>

#include "absl/status/statusor.h"

namespace rnnserve::server {

class InflightBudget {
 public:
  // Bytes held for one request; gives them back when released or destroyed.
  // Move-only; not thread-safe itself (one request owns it).
  class Reservation {
   public:
    Reservation() = default;  // holds nothing
    Reservation(Reservation&& other) noexcept { *this = std::move(other); }
    Reservation& operator=(Reservation&& other) noexcept;
    ~Reservation() { Release(); }

    int64_t bytes() const { return bytes_; }
    // Gives the bytes back now (the answer is out); later calls do nothing.
    void Release();

   private:
    friend class InflightBudget;
    Reservation(InflightBudget* budget, int64_t bytes) : budget_(budget), bytes_(bytes) {}
    InflightBudget* budget_ = nullptr;  // Not owned; outlives the reservation.
    int64_t bytes_ = 0;
  };

  // REQUIRES: limit_bytes > 0.
  explicit InflightBudget(int64_t limit_bytes);
  InflightBudget(const InflightBudget&) = delete;
  InflightBudget& operator=(const InflightBudget&) = delete;

  // Reserves `bytes`. INVALID_ARGUMENT when they exceed the whole budget (no
  // wait would ever fit them); RESOURCE_EXHAUSTED when the reservations in
  // flight leave too little now. Nothing is reserved on an error.
  absl::StatusOr<Reservation> Reserve(int64_t bytes);

  int64_t limit_bytes() const { return limit_bytes_; }
  // Bytes reserved now (rnnserve_inflight_bytes).
  int64_t used_bytes() const { return used_.load(std::memory_order_relaxed); }

 private:
  const int64_t limit_bytes_;
  std::atomic<int64_t> used_{0};
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_INFLIGHT_BUDGET_H_
