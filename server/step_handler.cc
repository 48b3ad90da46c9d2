#include "server/step_handler.h"

#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "server/model_service.h"
#include "server/session_lookup.h"
#include "server/stored_inline.h"
#include "util/status_macros.h"

namespace rnnserve::server {
namespace {

void SetModel(const ModelRef& model, v1::ModelRef& out) {
  out.set_name(model.name);
  out.set_version(model.version);
}

void SetOutputs(absl::Span<const float> values, int64_t rows, int64_t width, v1::Outputs& out) {
  out.mutable_values()->Assign(values.begin(), values.end());
  out.add_shape(rows);
  out.add_shape(width);
}

// Empties `response` for a new answer but keeps what it holds (the
// outputs' capacity, the submessages), which Clear() would free: a reused
// response allocates nothing for a step no larger than the last.
void ResetAnswer(v1::StepResponse& response) {
  if (response.has_error()) response.clear_error();
  response.mutable_outputs()->Clear();
  response.mutable_model()->Clear();
  response.set_session_steps(0);
  response.set_durable_steps(0);
}

void RecordStep(const StepOutcome& outcome, int64_t steps, absl::Time received,
                ModelMetrics& metrics) {
  metrics.step_latency_seconds.Observe(absl::ToDoubleSeconds(absl::Now() - received));
  metrics.queue_wait_seconds.Observe(absl::ToDoubleSeconds(outcome.queue_wait));
  metrics.steps_total.Increment(static_cast<double>(steps));
  if (outcome.first_in_batch) {
    metrics.compute_seconds.Observe(absl::ToDoubleSeconds(outcome.compute));
    metrics.batch_size.Observe(outcome.batch_size);
  }
}

absl::Status CheckStreamable(const ServedModel& model) {
  if (model.loaded.stack->streamable()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "model ", model.name, " reads sequences backwards (bidirectional, reverse or "
      "go_backwards): it cannot be stepped; send the whole sequence to RunSequence"));
}

}  // namespace

template <typename Request>
absl::StatusOr<StepInputData> InputOf(const Request& request, const model::LayerStack& model) {
  // proto3 enums are open: serving all steps for a mode this server does not
  // know would answer with another shape than the client asked for.
  if (!v1::OutputMode_IsValid(request.output_mode())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "output_mode ", request.output_mode(),
        " is unknown; want OUTPUT_MODE_ALL_STEPS (0) or OUTPUT_MODE_LAST_STEP (1)"));
  }
  const bool tokens = model.input_kind() == model::InputKind::kTokens;
  if (request.has_tokens() != tokens || request.has_floats() == tokens) {
    return absl::InvalidArgumentError(
        tokens ? absl::StrCat("this model takes token ids (tokens.ids), vocabulary ",
                              model.vocabulary_size())
               : absl::StrCat("this model takes floats (floats.values), ", model.input_size(),
                              " per step"));
  }
  int64_t steps;
  if (tokens) {
    steps = request.tokens().ids_size();
  } else {
    const int64_t values = request.floats().values_size();
    if (request.floats().steps() < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "floats.steps is ", request.floats().steps(),
          "; want the number of steps, or 0 to count them from floats.values"));
    }
    const int64_t width = model.input_size();
    steps = request.floats().steps() > 0 ? request.floats().steps() : values / width;
    if (steps * width != values) {
      return absl::InvalidArgumentError(
          absl::StrCat("floats.values has ", values, " values; want steps x ", width,
                       (request.floats().steps() > 0 ? absl::StrCat(" = ", steps * width) : ""),
                       " (", width, " features per step)"));
    }
  }
  if (steps <= 0 || steps > model::LayerStack::kMaxInputRows) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a request carries ", steps, " steps; want 1 to ", model::LayerStack::kMaxInputRows));
  }
  // Values too (token range, NaN/Inf), once: a start never resets a session
  // for a step that would then fail, and the batcher and the engine trust
  // the checked rows, which stay in the request.
  StepInputData input;
  input.steps = steps;
  RNN_ASSIGN_OR_RETURN(
      input.rows,
      model.Check(tokens ? model::StepInput::Tokens(request.tokens().ids().data(), steps)
                         : model::StepInput::Floats(request.floats().values().data(), steps)));
  return input;
}

template absl::StatusOr<StepInputData> InputOf(const v1::StepRequest&, const model::LayerStack&);
template absl::StatusOr<StepInputData> InputOf(const v1::SequenceRequest&,
                                               const model::LayerStack&);

absl::StatusOr<AdmittedInput> StepHandler::Admit(const v1::StepRequest& request,
                                                 const model::LayerStack& model,
                                                 const std::string& model_name) const {
  RNN_ASSIGN_OR_RETURN(StepInputData input, InputOf(request, model));
  if (request.has_expected_session_steps() && !request.start()) {
    input.expected_session_steps = request.expected_session_steps();
  }
  const RequestedWork work{
      .kind = RequestedWork::Kind::kSteps,
      .steps = input.steps,
      .last_only = request.output_mode() == v1::OUTPUT_MODE_LAST_STEP,
      .echoed_bytes = static_cast<int64_t>(request.request_id().size() +
                                           request.session_id().size() + model_name.size())};
  RNN_ASSIGN_OR_RETURN(InflightBudget::Reservation reservation,
                       admission_->Admit(model, model_name, work));
  return AdmittedInput{std::move(input), std::move(reservation)};
}

absl::StatusOr<SessionPtr> StepHandler::StartSession(const v1::StepRequest& request, absl::Time now,
                                                     ModelRef& model,
                                                     AdmittedInput& admitted) const {
  if (request.model().name().empty()) {
    return absl::InvalidArgumentError("a start step names its model (model.name)");
  }
  // FindServedModel refuses a version past int, which Find would truncate.
  RNN_ASSIGN_OR_RETURN(const ServedModelPtr served, FindServedModel(*models_, request.model()));
  RNN_RETURN_IF_ERROR(CheckStreamable(*served));
  // The input is checked and admitted before the start resets anything.
  RNN_ASSIGN_OR_RETURN(admitted, Admit(request, *served->loaded.stack, served->name));
  model = served->ref();
  RNN_ASSIGN_OR_RETURN(SessionPtr session, store_->Start(request.session_id(), model, now));
  if (tier_ != nullptr) tier_->ClaimStarted(session);
  return session;
}

absl::StatusOr<SessionPtr> StepHandler::CheckFound(const v1::StepRequest& request,
                                                   absl::StatusOr<SessionPtr> session,
                                                   ModelRef& model) const {
  if (absl::IsNotFound(session.status())) {
    return absl::NotFoundError(absl::StrCat(session.status().message(),
                                            "; send start=true with a model to begin one"));
  }
  RNN_RETURN_IF_ERROR(session.status());
  {
    absl::MutexLock lock(&(*session)->mu());
    model = (*session)->model();
  }
  const v1::ModelRef& asked = request.model();
  if ((!asked.name().empty() && asked.name() != model.name) ||
      (asked.version() != 0 && asked.version() != model.version)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "session ", request.session_id(), " runs model ", model.name, " version ",
        model.version, ", not ", asked.name(), " version ", asked.version()));
  }
  return session;
}

void StepHandler::Handle(const v1::StepRequest& request, v1::StepResponse& response,
                         absl::Time deadline, StepInFlight& in_flight, Reply reply) const {
  in_flight.reply_ = std::move(reply);
  in_flight.gated_ = false;
  if (gate_ != nullptr) {
    if (absl::Status entered = gate_->Enter(); !entered.ok()) return Answer(in_flight, entered);
    in_flight.gated_ = true;
  }
  HandleAdmitted(request, response, deadline, in_flight);
}

void StepHandler::Answer(StepInFlight& call, const absl::Status& status) const {
  // Taken out first: once the reply runs, the caller may reuse `call`.
  Reply reply = std::move(call.reply_);
  // Kept (its name's capacity) but for the stack: an idle stream holds no
  // model alive (a refused request may have left it here).
  call.model_.stack.reset();
  if (std::exchange(call.gated_, false)) {
    gate_->Exit();  // The session is as final as the reply says.
  }
  std::move(reply)(status);
}

void StepHandler::HandleAdmitted(const v1::StepRequest& request, v1::StepResponse& response,
                                 absl::Time deadline, StepInFlight& call) const {
  absl::Status valid = ValidateSessionId(request.session_id());
  if (!valid.ok()) return Answer(call, valid);
  const absl::Time received = absl::Now();
  if (request.start()) {
    AdmittedInput admitted;
    absl::StatusOr<SessionPtr> session = StartSession(request, received, call.model_, admitted);
    if (!session.ok()) return Answer(call, session.status());
    return Submit(request, response, deadline, received, *std::move(session), std::move(admitted),
                  call);
  }
  std::optional<absl::StatusOr<SessionPtr>> local =
      LookUpLocally(*store_, tier_, request.session_id(), received, SessionStore::Use::kStep);
  if (local.has_value()) {
    return StepFound(request, response, deadline, received, *std::move(local), call);
  }
  // Only the tier can say where the session is (a Redis round trip, maybe a
  // call to its owner): on its lookup threads, with a copy of the request
  // (the caller may reuse its own once this returns), counted in flight
  // until the reply (the step reads its rows from the copy).
  absl::StatusOr<InflightBudget::Reservation> copy_bytes =
      admission_->ReserveWaiting(static_cast<int64_t>(request.ByteSizeLong()));
  if (!copy_bytes.ok()) return Answer(call, copy_bytes.status());
  auto copy = std::make_unique<const v1::StepRequest>(request);
  const v1::StepRequest& kept = *copy;
  call.reply_ = [copy = std::move(copy), copy_bytes = *std::move(copy_bytes),
                 reply = std::move(call.reply_)](absl::Status status) mutable {
    std::move(reply)(status);
  };
  tier_->RunLookup([this, &kept, &response, deadline, received, &call](absl::Status queued) {
    if (!queued.ok()) return Answer(call, queued);
    StepFound(kept, response, deadline, received,
              LookUpSession(*store_, tier_, kept.session_id(), received, SessionStore::Use::kStep),
              call);
  });
}

void StepHandler::StepFound(const v1::StepRequest& request, v1::StepResponse& response,
                            absl::Time deadline, absl::Time received,
                            absl::StatusOr<SessionPtr> found, StepInFlight& call) const {
  absl::StatusOr<SessionPtr> session = CheckFound(request, std::move(found), call.model_);
  if (!session.ok()) return Answer(call, session.status());
  absl::StatusOr<AdmittedInput> admitted = Admit(request, *call.model_.stack, call.model_.name);
  if (!admitted.ok()) return Answer(call, admitted.status());
  Submit(request, response, deadline, received, *std::move(session), *std::move(admitted), call);
}

void StepHandler::Submit(const v1::StepRequest& request, v1::StepResponse& response,
                         absl::Time deadline, absl::Time received, SessionPtr session,
                         AdmittedInput admitted, StepInFlight& call) const {
  const ModelRef& model = call.model_;
  const bool last_only = request.output_mode() == v1::OUTPUT_MODE_LAST_STEP;
  const int64_t width = model.stack->output_size();
  const int64_t rows = last_only ? 1 : admitted.input.steps;
  // The answer but what the step tells, with room for its outputs, which
  // the batcher writes in place (uninitialized until then: no zero fill).
  ResetAnswer(response);
  response.set_request_id(request.request_id());
  response.set_session_id(request.session_id());
  v1::Outputs& outputs = *response.mutable_outputs();
  outputs.mutable_values()->Reserve(static_cast<int>(rows * width));
  float* const values =
      outputs.mutable_values()->AddNAlreadyReserved(static_cast<int>(rows * width));
  outputs.add_shape(rows);
  outputs.add_shape(width);
  SetModel(model, *response.mutable_model());
  call.response_ = &response;
  call.session_ = session;
  call.reservation_ = std::move(admitted.reservation);
  call.received_ = received;
  call.steps_ = admitted.input.steps;
  call.end_ = request.end();
  // Two pointers: stored inline in the batcher's Done, no allocation.
  auto done = [this, &call](absl::StatusOr<StepOutcome> outcome) {
    Complete(call, std::move(outcome));
  };
  static_assert(kStoredInline<decltype(done)>);
  // The stack moves to the batcher: `call` keeps no model alive between steps.
  batcher_->Submit(std::move(session), std::move(call.model_.stack), std::move(admitted.input),
                   last_only, values, deadline, std::move(done));
}

void StepHandler::Complete(StepInFlight& call, absl::StatusOr<StepOutcome> outcome) const {
  // Taken out of `call` before the reply: from then on the caller may reuse it.
  SessionPtr session = std::move(call.session_);
  InflightBudget::Reservation reservation = std::move(call.reservation_);
  v1::StepResponse& response = *std::exchange(call.response_, nullptr);
  if (outcome.ok()) {
    if (call.model_.metrics != nullptr) {
      RecordStep(*outcome, call.steps_, call.received_, *call.model_.metrics);
    }
    response.set_session_steps(outcome->session_steps);
    response.set_durable_steps(session->durable_steps());
    if (call.end_) store_->End(response.session_id()).IgnoreError();  // Already gone is fine.
  }
  Answer(call, outcome.status());
  // Its checkpoint may hold this step now that its client will see it.
  if (outcome.ok()) session->AnswerHandedOver();
  // The answer is gRPC's now (serialized, or the call is over).
  reservation.Release();
}

absl::StatusOr<AdmittedSequence> StepHandler::AdmitSequence(
    std::unique_ptr<const v1::SequenceRequest> request) const {
  if (request->model().name().empty()) {
    return absl::InvalidArgumentError("RunSequence names its model (model.name)");
  }
  RNN_ASSIGN_OR_RETURN(const ServedModelPtr served, FindServedModel(*models_, request->model()));
  const model::LayerStack& stack = *served->loaded.stack;
  AdmittedSequence sequence{.model = served,
                            .last_only = request->output_mode() == v1::OUTPUT_MODE_LAST_STEP};
  RNN_ASSIGN_OR_RETURN(sequence.admitted.input, InputOf(*request, stack));
  const RequestedWork work{.kind = RequestedWork::Kind::kWholeSequence,
                           .steps = sequence.admitted.input.steps,
                           .last_only = sequence.last_only,
                           .echoed_bytes = static_cast<int64_t>(served->name.size())};
  RNN_ASSIGN_OR_RETURN(sequence.admitted.reservation, admission_->Admit(stack, served->name, work));
  sequence.request = std::move(request);
  return sequence;
}

absl::StatusOr<v1::SequenceResponse> StepHandler::RunSequence(
    const AdmittedSequence& sequence) const {
  const model::LayerStack& stack = *sequence.model->loaded.stack;
  RNN_ASSIGN_OR_RETURN(const model::RowMatrix outputs,
                       stack.RunSequence(sequence.admitted.input.rows));
  const int64_t first = sequence.last_only ? outputs.rows() - 1 : 0;
  const int64_t rows = outputs.rows() - first;
  const int64_t width = outputs.cols();
  v1::SequenceResponse response;
  SetOutputs(absl::MakeConstSpan(outputs.data() + first * width, rows * width), rows, width,
             *response.mutable_outputs());
  SetModel(sequence.model->ref(), *response.mutable_model());
  return response;
}

}  // namespace rnnserve::server
