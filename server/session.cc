#include "server/session.h"

#include <utility>

#include "glog/logging.h"
#include "server/metrics.h"
#include "util/status_macros.h"

namespace rnnserve::server {

Session::Session(std::string id, ModelRef model, float* state, absl::Time now, ChangeFeed* changes)
    : id_(std::move(id)),
      changes_(changes),
      model_(std::move(model)),
      state_(state),
      changed_since_ns_(absl::GetCurrentTimeNanos()),  // a new state: checkpoint it
      last_used_ns_(absl::ToUnixNanos(now)),
      metrics_(model_.metrics) {
  CHECK(state_ != nullptr);
}

Session::~Session() { model_.pool->Release(state_); }

absl::Status Session::Reset(const ModelRef& model) {
  CHECK(idle_) << "session " << id_ << ": reset while a step computes on it";
  if (model.pool != model_.pool) {
    RNN_ASSIGN_OR_RETURN(float* fresh, model.pool->Allocate());
    model_.pool->Release(state_);
    state_ = fresh;
  }
  // A live session moves from its old model's active count to the new one.
  if (model.metrics != model_.metrics) {
    if (model_.metrics != nullptr) model_.metrics->active_sessions.Decrement();
    if (model.metrics != nullptr) model.metrics->active_sessions.Increment();
  }
  model_ = model;
  metrics_.store(model.metrics);
  model_.stack->InitState(state_);
  step_count_ = 0;
  restored_behind_ = false;
  // A new incarnation: nothing of it is durable, and it must be claimed anew.
  durable_steps_.store(0);
  claim_due_.store(true);
  MarkChanged();
  return absl::OkStatus();
}

}  // namespace rnnserve::server
