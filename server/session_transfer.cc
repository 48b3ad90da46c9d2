#include "server/session_transfer.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/model_service.h"
#include "util/byte_order.h"
#include "util/status_macros.h"

namespace rnnserve::server {
namespace {

// float32 <-> little-endian bytes, whatever the host's byte order.
void EncodeFloats(const float* values, int64_t count, std::string* bytes) {
  bytes->resize(static_cast<size_t>(count) * 4);
  char* out = bytes->data();
  if constexpr (std::endian::native == std::endian::little) {
    // The checkpoint writer exports every changed session each interval.
    std::memcpy(out, values, bytes->size());
    return;
  }
  for (int64_t i = 0; i < count; ++i) {
    const uint32_t bits = std::bit_cast<uint32_t>(values[i]);
    for (int b = 0; b < 4; ++b) *out++ = static_cast<char>((bits >> (8 * b)) & 0xff);
  }
}

float DecodeFloat(const char* in) { return std::bit_cast<float>(util::LoadU32(in)); }

}  // namespace

absl::Status ExportSession(Session& session, const ServedModels& models,
                           v1::SessionState* state) {
  absl::MutexLock lock(&session.mu());
  return ExportSessionLocked(session, models, state);
}

absl::Status ExportSessionLocked(Session& session, const ServedModels& models,
                                 v1::SessionState* state) {
  session.AwaitIdle();  // Never a half-stepped state.
  const ModelRef& model = session.model();
  // A retired version's sessions are exported too, as long as it is loaded.
  RNN_ASSIGN_OR_RETURN(const ServedModelPtr served,
                       models.FindForSession(model.name, model.version));
  state->set_session_id(std::string(session.id()));
  state->mutable_model()->set_name(model.name);
  state->mutable_model()->set_version(model.version);
  state->set_fingerprint(served->loaded.info.fingerprint);
  state->set_steps(session.step_count());
  EncodeFloats(session.state(), model.stack->state_size(), state->mutable_state());
  return absl::OkStatus();
}

absl::StatusOr<SessionPtr> ImportSession(const v1::SessionState& state, const ServedModels& models,
                                         SessionStore& store, absl::Time now) {
  RNN_RETURN_IF_ERROR(ValidateSessionId(state.session_id()));
  RNN_ASSIGN_OR_RETURN(const ServedModelPtr served,
                       FindServedModelForSession(models, state.model()));
  const std::string& fingerprint = served->loaded.info.fingerprint;
  if (state.fingerprint() != fingerprint) {
    return absl::FailedPreconditionError(absl::StrCat(
        "state exported from a model with fingerprint \"", state.fingerprint(),
        "\", this server serves ", served->name, " version ", served->version,
        " with fingerprint \"", fingerprint, "\": expected the same model files"));
  }
  const int64_t state_size = served->loaded.stack->state_size();
  if (static_cast<int64_t>(state.state().size()) != state_size * 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        "state is ", state.state().size(), " bytes: expected ", state_size * 4, " (",
        state_size, " float32 values of ", served->name, " version ", served->version, ")"));
  }
  if (state.steps() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("steps is ", state.steps(), ": expected 0 or more"));
  }
  std::vector<float> values(static_cast<size_t>(state_size));
  for (int64_t i = 0; i < state_size; ++i) {
    values[i] = DecodeFloat(state.state().data() + 4 * i);
    if (!std::isfinite(values[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "state value ", i, " is ", values[i], ": expected finite float32 values"));
    }
  }
  RNN_ASSIGN_OR_RETURN(SessionPtr session, store.Start(state.session_id(), served->ref(), now));
  absl::MutexLock lock(&session->mu());
  session->AwaitIdle();  // A step computing on the old state finishes first.
  if (session->model().stack != served->loaded.stack) {
    // Another start rebound the session between Start and this lock.
    return absl::AbortedError(absl::StrCat("session \"", state.session_id(),
                                           "\" was restarted with another model during the "
                                           "import: expected no concurrent start; retry"));
  }
  std::copy(values.begin(), values.end(), session->state());
  session->AddSteps(state.steps() - session->step_count());
  return session;
}

}  // namespace rnnserve::server
