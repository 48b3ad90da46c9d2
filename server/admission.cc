#include "server/admission.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace rnnserve::server {
namespace {

// An answer's fields besides the output values, at their widest: the tags
// and length prefixes of outputs, values and shape, two int64 shape entries,
// session_steps, and the model reference's version. Strings come on top.
constexpr int64_t kEnvelopeBytes = 128;
constexpr int64_t kFloatBytes = 4;

// Bytes the request's input takes once parsed: int64 token ids, or floats.
int64_t InputBytesPerStep(const model::LayerStack& model) {
  return model.input_kind() == model::InputKind::kTokens ? 8 : kFloatBytes * model.input_size();
}

// The widest output of any level (forward and backward together).
int64_t WidestLevel(const model::LayerStack& model) {
  int64_t widest = model.input_size();
  for (const model::LayerLevel& level : model.levels()) {
    int64_t width = level.forward.output_size();
    if (level.backward.has_value()) width += level.backward->output_size();
    widest = std::max(widest, width);
  }
  return widest;
}

// A final-state model (ONNX Y_h) answers a whole sequence with one row.
int64_t AnswerRows(const model::LayerStack& model, const RequestedWork& work) {
  const bool one_row =
      work.last_only || (work.kind == RequestedWork::Kind::kWholeSequence &&
                         model.sequence_output() == model::SequenceOutput::kFinalState);
  return one_row ? 1 : work.steps;
}

}  // namespace

int64_t AdmissionLimits::steps_per_request() const {
  const int64_t steps =
      max_steps_per_request > 0 ? max_steps_per_request : max_message_bytes / kBytesPerDerivedStep;
  return std::clamp<int64_t>(steps, 1, model::LayerStack::kMaxInputRows);
}

Admission::Admission(const AdmissionLimits& limits)
    : limits_(limits), budget_(limits.max_inflight_bytes) {}

int64_t Admission::AnswerBytes(const model::LayerStack& model, const RequestedWork& work) {
  return kEnvelopeBytes + work.echoed_bytes +
         AnswerRows(model, work) * model.output_size() * kFloatBytes;
}

int64_t Admission::LargestAnsweredChunk(const model::LayerStack& model,
                                        int64_t echoed_bytes) const {
  const int64_t room = limits_.max_message_bytes - kEnvelopeBytes - echoed_bytes;
  return std::max<int64_t>(0, room / (model.output_size() * kFloatBytes));
}

int64_t Admission::WorkBytes(const model::LayerStack& model, const RequestedWork& work) {
  // The received bytes, the parsed message and the copy the step runs on.
  int64_t bytes = 3 * work.steps * InputBytesPerStep(model);
  // The outcome's values, the response message and its serialized bytes.
  bytes += 3 * AnswerRows(model, work) * model.output_size() * kFloatBytes;
  if (work.kind == RequestedWork::Kind::kWholeSequence) {
    // LayerStack::RunSequence keeps every step of a level's input, its
    // outputs (a reversed copy for backward layers) and the head's outputs.
    bytes += work.steps * kFloatBytes *
             (model.input_size() + 3 * WidestLevel(model) + model.output_size());
  }
  return bytes;
}

absl::StatusOr<InflightBudget::Reservation> Admission::Admit(const model::LayerStack& model,
                                                             absl::string_view model_name,
                                                             const RequestedWork& work) {
  const int64_t max_steps = limits_.steps_per_request();
  const int64_t answer = AnswerBytes(model, work);
  if (answer > limits_.max_message_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the answer to ", work.steps, " steps with all outputs would be ", answer,
        " bytes, past this server's limit of ", limits_.max_message_bytes,
        " bytes per message (--max_message_bytes); nothing was computed or applied: send at "
        "most ",
        std::min(max_steps, LargestAnsweredChunk(model, work.echoed_bytes)),
        " steps per request to model ", model_name,
        ", or ask for OUTPUT_MODE_LAST_STEP (one output row, up to ", max_steps,
        " steps per request)"));
  }
  if (work.steps > max_steps) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a request carries ", work.steps, " steps; this server takes at most ", max_steps,
        " per request (--max_steps_per_request); nothing was computed or applied: send them "
        "in smaller chunks"));
  }
  return budget_.Reserve(WorkBytes(model, work));
}

}  // namespace rnnserve::server
