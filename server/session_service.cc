#include "server/session_service.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "model/byte_order.h"
#include "model/status_macros.h"
#include "server/grpc_status.h"
#include "server/model_service.h"

namespace rnnserve::server {
namespace {

namespace pb = ::rnnserve::v1;

// The session's info at `now`.
void FillInfoLocked(Session& session, absl::Time now, pb::SessionInfo* info)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mu());
void FillInfoLocked(Session& session, absl::Time now, pb::SessionInfo* info) {
  info->set_session_id(session.id());
  info->mutable_model()->set_name(session.model().name);
  info->mutable_model()->set_version(session.model().version);
  info->set_steps(session.step_count());
  info->set_idle_seconds(std::max(0.0, absl::ToDoubleSeconds(now - session.last_used())));
}

void FillInfo(Session& session, absl::Time now, pb::SessionInfo* info) {
  absl::MutexLock lock(&session.mu());
  FillInfoLocked(session, now, info);
}

// float32 <-> little-endian bytes, whatever the host's byte order.
void EncodeFloats(const float* values, int64_t count, std::string* bytes) {
  bytes->resize(static_cast<size_t>(count) * 4);
  char* out = bytes->data();
  for (int64_t i = 0; i < count; ++i) {
    const uint32_t bits = std::bit_cast<uint32_t>(values[i]);
    for (int b = 0; b < 4; ++b) *out++ = static_cast<char>((bits >> (8 * b)) & 0xff);
  }
}

float DecodeFloat(const char* in) { return std::bit_cast<float>(model::LoadU32(in)); }


}  // namespace

grpc::ServerUnaryReactor* SessionServiceImpl::EndSession(grpc::CallbackServerContext* context,
                                                         const pb::SessionRef* request,
                                                         pb::SessionInfo* response) {
  return FinishUnary(context, End(request->session_id(), response), "EndSession", metrics_);
}

grpc::ServerUnaryReactor* SessionServiceImpl::ResetSession(grpc::CallbackServerContext* context,
                                                           const pb::SessionRef* request,
                                                           pb::SessionInfo* response) {
  return FinishUnary(context, Reset(request->session_id(), response), "ResetSession", metrics_);
}

grpc::ServerUnaryReactor* SessionServiceImpl::DescribeSession(
    grpc::CallbackServerContext* context, const pb::SessionRef* request,
    pb::SessionInfo* response) {
  return FinishUnary(context, Describe(request->session_id(), response), "DescribeSession", metrics_);
}

grpc::ServerUnaryReactor* SessionServiceImpl::ExportState(grpc::CallbackServerContext* context,
                                                          const pb::SessionRef* request,
                                                          pb::SessionState* response) {
  return FinishUnary(context, Export(request->session_id(), response), "ExportState", metrics_);
}

grpc::ServerUnaryReactor* SessionServiceImpl::ImportState(grpc::CallbackServerContext* context,
                                                          const pb::SessionState* request,
                                                          pb::SessionInfo* response) {
  return FinishUnary(context, Import(*request, response), "ImportState", metrics_);
}

absl::Status SessionServiceImpl::End(const std::string& id, pb::SessionInfo* info) {
  const absl::Time now = clock_();
  RNN_ASSIGN_OR_RETURN(const std::shared_ptr<Session> session, store_->Get(id, now));
  FillInfo(*session, now, info);
  return store_->End(id);
}

absl::Status SessionServiceImpl::Reset(const std::string& id, pb::SessionInfo* info) {
  const absl::Time now = clock_();
  RNN_ASSIGN_OR_RETURN(std::shared_ptr<Session> session, store_->Get(id, now));
  ModelRef model;
  {
    absl::MutexLock lock(&session->mu());
    model = session->model();
  }
  // Start takes session->mu() itself (after any step running on it).
  RNN_ASSIGN_OR_RETURN(session, store_->Start(id, model, now));
  FillInfo(*session, now, info);
  return absl::OkStatus();
}

absl::Status SessionServiceImpl::Describe(const std::string& id, pb::SessionInfo* info) {
  const absl::Time now = clock_();
  RNN_ASSIGN_OR_RETURN(const std::shared_ptr<Session> session,
                       store_->Get(id, now, SessionStore::Use::kLookOnly));
  FillInfo(*session, now, info);
  return absl::OkStatus();
}

absl::Status SessionServiceImpl::Export(const std::string& id, pb::SessionState* state) {
  const absl::Time now = clock_();
  RNN_ASSIGN_OR_RETURN(const std::shared_ptr<Session> session,
                       store_->Get(id, now, SessionStore::Use::kLookOnly));
  absl::MutexLock lock(&session->mu());
  const ModelRef& model = session->model();
  RNN_ASSIGN_OR_RETURN(const ServedModel* served, models_->Find(model.name, model.version));
  state->set_session_id(session->id());
  state->mutable_model()->set_name(model.name);
  state->mutable_model()->set_version(model.version);
  state->set_fingerprint(served->loaded.info.fingerprint);
  state->set_steps(session->step_count());
  EncodeFloats(session->state(), model.stack->state_size(), state->mutable_state());
  return absl::OkStatus();
}

absl::Status SessionServiceImpl::Import(const pb::SessionState& state, pb::SessionInfo* info) {
  RNN_RETURN_IF_ERROR(ValidateSessionId(state.session_id()));
  RNN_ASSIGN_OR_RETURN(const ServedModel* served, FindServedModel(*models_, state.model()));
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
  const absl::Time now = clock_();
  RNN_ASSIGN_OR_RETURN(const std::shared_ptr<Session> session,
                       store_->Start(state.session_id(), served->ref(), now));
  absl::MutexLock lock(&session->mu());
  if (session->model().stack != served->loaded.stack) {
    // Another start rebound the session between Start and this lock.
    return absl::AbortedError(absl::StrCat("session \"", state.session_id(),
                                           "\" was restarted with another model during the "
                                           "import: expected no concurrent start; retry"));
  }
  std::copy(values.begin(), values.end(), session->state());
  session->AddSteps(state.steps() - session->step_count());
  FillInfoLocked(*session, now, info);
  return absl::OkStatus();
}

}  // namespace rnnserve::server
