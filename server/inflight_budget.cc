#include "server/inflight_budget.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace rnnserve::server {

InflightBudget::Reservation& InflightBudget::Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    Release();
    budget_ = std::exchange(other.budget_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

void InflightBudget::Reservation::Release() {
  if (budget_ != nullptr) budget_->used_.fetch_sub(bytes_, std::memory_order_relaxed);
  budget_ = nullptr;
  bytes_ = 0;
}

InflightBudget::InflightBudget(int64_t limit_bytes) : limit_bytes_(limit_bytes) {
  CHECK_GT(limit_bytes_, 0);
}

absl::StatusOr<InflightBudget::Reservation> InflightBudget::Reserve(int64_t bytes) {
  if (bytes > limit_bytes_) {
    return absl::InvalidArgumentError(
        absl::StrCat("this request needs about ", bytes,
                     " bytes while it runs, more than the server's "
                     "whole budget for work in flight (",
                     limit_bytes_, " bytes, --max_inflight_bytes); send fewer steps per request"));
  }
  int64_t used = used_.load(std::memory_order_relaxed);
  // A compare-and-swap loop, not fetch_add then undo: an add past the limit
  // would briefly refuse other requests that fit.
  do {
    if (used + bytes > limit_bytes_) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the server is busy: ", used, " of its ", limit_bytes_,
          " bytes for work in flight (--max_inflight_bytes) are held and this request needs ",
          bytes, "; nothing was applied: retry later, or send fewer steps per request"));
    }
  } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
  return Reservation(this, bytes);
}

}  // namespace rnnserve::server
