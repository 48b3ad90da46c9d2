#include "server/session_service.h"

#include <algorithm>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "server/grpc_status.h"
#include "server/model_service.h"
#include "server/session_lookup.h"
#include "server/session_transfer.h"
#include "util/status_macros.h"

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

// Runs `change` (returning absl::Status) past `gate` (null: none), or
// refuses it with UNAVAILABLE once the gate is closed.
template <typename Change>
absl::Status PastGate(OperationGate* gate, Change&& change) {
  if (gate == nullptr) return change();
  RNN_RETURN_IF_ERROR(gate->Enter());
  absl::Status status = change();
  gate->Exit();
  return status;
}

}  // namespace

grpc::ServerUnaryReactor* SessionServiceImpl::EndSession(grpc::CallbackServerContext* context,
                                                         const pb::SessionRef* request,
                                                         pb::SessionInfo* response) {
  const absl::Status status =
      RunIfAllowed(token_, *context, [&] {
    return PastGate(gate_, [&] { return End(request->session_id(), response); });
  });
  return FinishUnary(context, status, "EndSession", metrics_);
}

grpc::ServerUnaryReactor* SessionServiceImpl::ResetSession(grpc::CallbackServerContext* context,
                                                           const pb::SessionRef* request,
                                                           pb::SessionInfo* response) {
  const absl::Status status =
      RunIfAllowed(token_, *context, [&] {
    return PastGate(gate_, [&] { return Reset(request->session_id(), response); });
  });
  return FinishUnary(context, status, "ResetSession", metrics_);
}

grpc::ServerUnaryReactor* SessionServiceImpl::DescribeSession(
    grpc::CallbackServerContext* context, const pb::SessionRef* request,
    pb::SessionInfo* response) {
  const absl::Status status =
      RunIfAllowed(token_, *context, [&] { return Describe(request->session_id(), response); });
  return FinishUnary(context, status, "DescribeSession", metrics_);
}

grpc::ServerUnaryReactor* SessionServiceImpl::ExportState(grpc::CallbackServerContext* context,
                                                          const pb::SessionRef* request,
                                                          pb::SessionState* response) {
  const absl::Status status =
      RunIfAllowed(token_, *context, [&] { return Export(request->session_id(), response); });
  return FinishUnary(context, status, "ExportState", metrics_);
}

grpc::ServerUnaryReactor* SessionServiceImpl::ImportState(grpc::CallbackServerContext* context,
                                                          const pb::SessionState* request,
                                                          pb::SessionInfo* response) {
  const absl::Status status =
      RunIfAllowed(token_, *context, [&] {
    return PastGate(gate_, [&] { return Import(*request, response); });
  });
  return FinishUnary(context, status, "ImportState", metrics_);
}

absl::Status SessionServiceImpl::End(const std::string& id, pb::SessionInfo* info) {
  const absl::Time now = clock_();
  RNN_ASSIGN_OR_RETURN(const std::shared_ptr<Session> session,
                       LookUpSession(*store_, tier_, id, now, SessionStore::Use::kStep));
  FillInfo(*session, now, info);
  return store_->End(id);
}

absl::Status SessionServiceImpl::Reset(const std::string& id, pb::SessionInfo* info) {
  const absl::Time now = clock_();
  RNN_ASSIGN_OR_RETURN(std::shared_ptr<Session> session,
                       LookUpSession(*store_, tier_, id, now, SessionStore::Use::kStep));
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
                       LookUpSession(*store_, tier_, id, now, SessionStore::Use::kLookOnly));
  FillInfo(*session, now, info);
  return absl::OkStatus();
}

absl::Status SessionServiceImpl::Export(const std::string& id, pb::SessionState* state) {
  RNN_ASSIGN_OR_RETURN(const std::shared_ptr<Session> session,
                       LookUpSession(*store_, tier_, id, clock_(), SessionStore::Use::kLookOnly));
  return ExportSession(*session, *models_, state);
}

absl::Status SessionServiceImpl::Import(const pb::SessionState& state, pb::SessionInfo* info) {
  const absl::Time now = clock_();
  RNN_ASSIGN_OR_RETURN(const std::shared_ptr<Session> session,
                       ImportSession(state, *models_, *store_, now));
  if (tier_ != nullptr) tier_->ClaimImported(*session);
  FillInfo(*session, now, info);
  return absl::OkStatus();
}

}  // namespace rnnserve::server
