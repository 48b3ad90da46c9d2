#include "client/session_stepper.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/errors.h"

namespace rnnserve::client {

int64_t InputSteps(const v1::StepRequest& request) {
  if (request.has_tokens()) return request.tokens().ids_size();
  return request.floats().steps();
}

SessionStepper::SessionStepper(StepCaller* caller, v1::StepRequest request,
                               ResendWindow::Origin origin, int64_t session_steps,
                               StepperOptions options)
    : caller_(caller),
      request_(std::move(request)),
      options_(options),
      window_(origin, session_steps, options.keep_steps) {}

void SessionStepper::Build(const PendingRequest& pending) {
  const v1::StepRequest& input = inputs_[pending.input - first_input_];
  request_.clear_floats();
  request_.clear_tokens();
  if (input.has_tokens()) {
    const auto& ids = input.tokens().ids();
    request_.mutable_tokens()->mutable_ids()->Assign(ids.begin() + pending.skip,
                                                     ids.begin() + pending.skip + pending.steps);
  } else {
    const auto& values = input.floats().values();
    const int64_t width = values.size() / std::max(input.floats().steps(), 1);
    request_.mutable_floats()->mutable_values()->Assign(
        values.begin() + pending.skip * width,
        values.begin() + (pending.skip + pending.steps) * width);
    request_.mutable_floats()->set_steps(static_cast<int32_t>(pending.steps));
  }
  request_.set_start(pending.start);
  request_.set_expected_session_steps(pending.expected_session_steps);
  request_.set_request_id(absl::StrCat(pending.ticket));
}

absl::Status SessionStepper::Step(v1::StepRequest input, const Deliver& deliver) {
  const int64_t steps = InputSteps(input);
  inputs_.push_back(std::move(input));
  std::deque<PendingRequest> queue = {window_.Send(next_input_++, steps)};
  int recoveries = 0;  // in a row, without an answer between them
  while (!queue.empty()) {
    const PendingRequest pending = queue.front();
    queue.pop_front();
    Build(pending);
    const absl::StatusOr<const v1::StepResponse*> answer = caller_->Call(request_);
    WindowAction action;
    bool broken = false;    // reopen the stream before sending again
    bool back_off = false;  // wait before sending again
    if (answer.ok()) {
      action =
          window_.OnAnswer(pending.ticket, (*answer)->session_steps(), (*answer)->durable_steps());
    } else if (absl::IsAborted(answer.status())) {
      action = window_.OnAborted(pending.ticket, caller_->refused_at_steps());
      // Without where the session stands: a race between replicas; again shortly.
      back_off = !caller_->refused_at_steps().has_value();
    } else if (absl::IsNotFound(answer.status())) {
      action = window_.OnNotFound(pending.ticket);
    } else if (absl::IsUnavailable(answer.status())) {
      action = window_.OnBroken(std::string(answer.status().message()));
      broken = back_off = true;
    } else {
      return answer.status();
    }
    // What went wrong, for messages: the refusal, or (an answer at the wrong
    // step) the window's reason.
    const std::string why = answer.ok() ? action.reason : std::string(answer.status().message());
    const absl::StatusCode code = answer.ok() ? absl::StatusCode::kAborted : answer.status().code();
    switch (action.kind) {
      case WindowAction::Kind::kDeliver: {
        const v1::StepResponse& response = **answer;
        if (!version_pinned_ && response.model().version() != 0) {
          // A replay must run the version the outputs so far came from, even
          // after a newer one is loaded.
          request_.mutable_model()->set_version(response.model().version());
          version_pinned_ = true;
        }
        const int64_t rows = response.outputs().shape_size() == 2 ? response.outputs().shape(0) : 0;
        const int64_t seen = std::clamp<int64_t>(
            action.delivered_before - (response.session_steps() - rows), 0, rows);
        deliver(response, seen);
        recoveries = 0;
        break;
      }
      case WindowAction::Kind::kIgnore:
        break;
      case WindowAction::Kind::kResend:
      case WindowAction::Kind::kRestart: {
        if (++recoveries > options_.max_reconnects) {
          return ServerRefused(code,
                               absl::StrCat("gave up after ", options_.max_reconnects,
                                            " recoveries in a row (--max_reconnects): ", why));
        }
        if (back_off) {
          const absl::Duration wait =
              std::min(options_.first_backoff * (int64_t{1} << std::min(recoveries - 1, 20)),
                       options_.max_backoff);
          std::this_thread::sleep_for(absl::ToChronoNanoseconds(wait));
        }
        if (broken) {
          caller_->Reopen();
          ++counts_.reconnects;
        }
        if (action.kind == WindowAction::Kind::kRestart) ++counts_.restarts;
        for (const PendingRequest& p : action.requests) counts_.resent_steps += p.steps;
        queue.assign(action.requests.begin(), action.requests.end());
        break;
      }
      case WindowAction::Kind::kLost:
        return ServerRefused(absl::StatusCode::kDataLoss,
                             absl::StrCat("session ", request_.session_id(), " is lost: ",
                                          action.reason, answer.ok() ? "" : " (" + why + ")"));
      case WindowAction::Kind::kFail:
        return answer.status();
    }
  }
  FreeUnneededInputs();
  return absl::OkStatus();
}

void SessionStepper::FreeUnneededInputs() {
  const uint64_t oldest = window_.oldest_input().value_or(next_input_);
  while (first_input_ < oldest) {
    inputs_.pop_front();
    ++first_input_;
  }
}

}  // namespace rnnserve::client
