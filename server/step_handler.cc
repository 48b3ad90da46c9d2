#include "server/step_handler.h"

#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "server/model_service.h"
#include "server/session_lookup.h"
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
  StepInputData input;
  const bool tokens = model.input_kind() == model::InputKind::kTokens;
  if (request.has_tokens() != tokens || request.has_floats() == tokens) {
    return absl::InvalidArgumentError(
        tokens ? absl::StrCat("this model takes token ids (tokens.ids), vocabulary ",
                              model.vocabulary_size())
               : absl::StrCat("this model takes floats (floats.values), ", model.input_size(),
                              " per step"));
  }
  if (tokens) {
    input.tokens.assign(request.tokens().ids().begin(), request.tokens().ids().end());
    input.steps = static_cast<int64_t>(input.tokens.size());
  } else {
    const auto& values = request.floats().values();
    if (request.floats().steps() < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "floats.steps is ", request.floats().steps(),
          "; want the number of steps, or 0 to count them from floats.values"));
    }
    input.floats.assign(values.begin(), values.end());
    const int64_t width = model.input_size();
    const int64_t steps = request.floats().steps() > 0 ? request.floats().steps()
                                                       : values.size() / width;
    if (steps * width != values.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "floats.values has ", values.size(), " values; want steps x ", width,
          (request.floats().steps() > 0 ? absl::StrCat(" = ", steps * width) : ""),
          " (", width, " features per step)"));
    }
    input.steps = steps;
  }
  if (input.steps <= 0 || input.steps > model::LayerStack::kMaxInputRows) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a request carries ", input.steps, " steps; want 1 to ",
        model::LayerStack::kMaxInputRows));
  }
  // Values too (token range, NaN/Inf), so a start never resets a session
  // for a step that would then fail.
  RNN_RETURN_IF_ERROR(model.CheckInput(
      tokens ? model::StepInput::Tokens(input.tokens.data(), input.steps)
             : model::StepInput::Floats(input.floats.data(), input.steps)));
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
  RNN_ASSIGN_OR_RETURN(const ServedModel* served, FindServedModel(*models_, request.model()));
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

void StepHandler::Handle(const v1::StepRequest& request, absl::Time deadline,
                         Reply reply) const {
  if (gate_ == nullptr) return HandleAdmitted(request, deadline, std::move(reply));
  if (absl::Status entered = gate_->Enter(); !entered.ok()) return std::move(reply)(entered);
  HandleAdmitted(request, deadline,
                 [gate = gate_, reply = std::move(reply)](
                     absl::StatusOr<v1::StepResponse> result) mutable {
                   gate->Exit();  // The session is as final as the reply says.
                   std::move(reply)(std::move(result));
                 });
}

void StepHandler::HandleAdmitted(const v1::StepRequest& request, absl::Time deadline,
                                 Reply reply) const {
  absl::Status valid = ValidateSessionId(request.session_id());
  if (!valid.ok()) return std::move(reply)(valid);
  const absl::Time received = absl::Now();
  if (request.start()) {
    ModelRef model;
    AdmittedInput admitted;
    absl::StatusOr<SessionPtr> session = StartSession(request, received, model, admitted);
    if (!session.ok()) return std::move(reply)(session.status());
    return Submit(request, deadline, received, *std::move(session), model, std::move(admitted),
                  std::move(reply));
  }
  std::optional<absl::StatusOr<SessionPtr>> local =
      LookUpLocally(*store_, tier_, request.session_id(), received, SessionStore::Use::kStep);
  if (local.has_value()) {
    return StepFound(request, deadline, received, *std::move(local), std::move(reply));
  }
  // Only the tier can say where the session is (a Redis round trip, maybe a
  // call to its owner): on its lookup threads, with a copy of the request
  // (the caller may reuse its own once this returns), counted in flight.
  absl::StatusOr<InflightBudget::Reservation> copy_bytes =
      admission_->ReserveWaiting(static_cast<int64_t>(request.ByteSizeLong()));
  if (!copy_bytes.ok()) return std::move(reply)(copy_bytes.status());
  tier_->RunLookup([this, request = std::make_unique<v1::StepRequest>(request), deadline, received,
                    copy_bytes = *std::move(copy_bytes),
                    reply = std::move(reply)](absl::Status queued) mutable {
    if (!queued.ok()) return std::move(reply)(queued);
    StepFound(
        *request, deadline, received,
        LookUpSession(*store_, tier_, request->session_id(), received, SessionStore::Use::kStep),
        std::move(reply));
  });
}

void StepHandler::StepFound(const v1::StepRequest& request, absl::Time deadline,
                            absl::Time received, absl::StatusOr<SessionPtr> found,
                            Reply reply) const {
  ModelRef model;
  absl::StatusOr<SessionPtr> session = CheckFound(request, std::move(found), model);
  if (!session.ok()) return std::move(reply)(session.status());
  absl::StatusOr<AdmittedInput> admitted = Admit(request, *model.stack, model.name);
  if (!admitted.ok()) return std::move(reply)(admitted.status());
  Submit(request, deadline, received, *std::move(session), model, *std::move(admitted),
         std::move(reply));
}

void StepHandler::Submit(const v1::StepRequest& request, absl::Time deadline, absl::Time received,
                         SessionPtr session, const ModelRef& model, AdmittedInput admitted,
                         Reply reply) const {
  auto respond = [this, request_id = request.request_id(), session_id = request.session_id(),
                  end = request.end(), model, width = model.stack->output_size(), stepped = session,
                  steps = admitted.input.steps, received,
                  reservation = std::move(admitted.reservation),
                  reply = std::move(reply)](absl::StatusOr<StepOutcome> outcome) mutable {
    if (!outcome.ok()) {
      std::move(reply)(outcome.status());
    } else {
      if (model.metrics != nullptr) RecordStep(*outcome, steps, received, *model.metrics);
      v1::StepResponse response;
      response.set_request_id(request_id);
      response.set_session_id(session_id);
      SetOutputs(outcome->outputs, outcome->rows, width, *response.mutable_outputs());
      outcome->outputs = {};  // One copy of the answer fewer while it is sent.
      response.set_session_steps(outcome->session_steps);
      response.set_durable_steps(stepped->durable_steps());
      SetModel(model, *response.mutable_model());
      if (end) store_->End(session_id).IgnoreError();  // Already gone is fine.
      std::move(reply)(std::move(response));
      // Its checkpoint may hold this step now that its client will see it.
      stepped->AnswerHandedOver();
    }
    // The answer is gRPC's now (serialized, or the call is over).
    reservation.Release();
  };
  const bool last_only = request.output_mode() == v1::OUTPUT_MODE_LAST_STEP;
  batcher_->Submit(std::move(session), model.stack, std::move(admitted.input), last_only, deadline,
                   std::move(respond));
}

absl::StatusOr<AdmittedSequence> StepHandler::AdmitSequence(
    const v1::SequenceRequest& request) const {
  if (request.model().name().empty()) {
    return absl::InvalidArgumentError("RunSequence names its model (model.name)");
  }
  RNN_ASSIGN_OR_RETURN(const ServedModel* served, FindServedModel(*models_, request.model()));
  const model::LayerStack& stack = *served->loaded.stack;
  AdmittedSequence sequence{.model = served,
                            .last_only = request.output_mode() == v1::OUTPUT_MODE_LAST_STEP};
  RNN_ASSIGN_OR_RETURN(sequence.admitted.input, InputOf(request, stack));
  const RequestedWork work{.kind = RequestedWork::Kind::kWholeSequence,
                           .steps = sequence.admitted.input.steps,
                           .last_only = sequence.last_only,
                           .echoed_bytes = static_cast<int64_t>(served->name.size())};
  RNN_ASSIGN_OR_RETURN(sequence.admitted.reservation, admission_->Admit(stack, served->name, work));
  return sequence;
}

absl::StatusOr<v1::SequenceResponse> StepHandler::RunSequence(
    const AdmittedSequence& sequence) const {
  const model::LayerStack& stack = *sequence.model->loaded.stack;
  const StepInputData& input = sequence.admitted.input;
  const model::StepInput view =
      input.tokens.empty() ? model::StepInput::Floats(input.floats.data(), input.steps)
                           : model::StepInput::Tokens(input.tokens.data(), input.steps);
  RNN_ASSIGN_OR_RETURN(const model::RowMatrix outputs, stack.RunSequence(view));
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
