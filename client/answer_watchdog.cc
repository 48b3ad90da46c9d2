#include "client/answer_watchdog.h"

namespace rnnserve::client {

AnswerWatchdog::AnswerWatchdog(grpc::ClientContext* context, absl::Duration timeout)
    : context_(context), timeout_(timeout) {
  if (timeout_ > absl::ZeroDuration() && timeout_ != absl::InfiniteDuration()) {
    thread_ = std::thread([this] { Watch(); });
  }
}

AnswerWatchdog::~AnswerWatchdog() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void AnswerWatchdog::Arm() {
  absl::MutexLock lock(&mu_);
  armed_ = true;
  ++generation_;
  deadline_ = absl::Now() + timeout_;
}

void AnswerWatchdog::Disarm() {
  absl::MutexLock lock(&mu_);
  armed_ = false;
  ++generation_;
}

bool AnswerWatchdog::fired() const {
  absl::MutexLock lock(&mu_);
  return fired_;
}

void AnswerWatchdog::Watch() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    if (!armed_) {
      mu_.Await(absl::Condition(
          +[](AnswerWatchdog* w) ABSL_NO_THREAD_SAFETY_ANALYSIS { return w->armed_ || w->stop_; },
          this));
      continue;
    }
    const int64_t generation = generation_;
    const auto changed = [this, generation]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return stop_ || generation_ != generation;
    };
    if (!mu_.AwaitWithDeadline(absl::Condition(&changed), deadline_)) {
      fired_ = true;
      armed_ = false;
      context_->TryCancel();  // Thread-safe; the blocked Read returns false.
    }
  }
}

}  // namespace rnnserve::client
