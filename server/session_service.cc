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
  info->set_session_id(std::string(session.id()));
  info->mutable_model()->set_name(session.model().name);
  info->mutable_model()->set_version(session.model().version);
  info->set_steps(session.step_count());
  info->set_idle_seconds(std::max(0.0, absl::ToDoubleSeconds(now - session.last_used())));
  info->set_durable_steps(session.durable_steps());
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
  return WithSession(context, "EndSession", request->session_id(), SessionStore::Use::kStep,
                     [this, response](Found found, absl::Time now) {
                       return PastGate(gate_, [&] { return End(found, now, response); });
                     });
}

grpc::ServerUnaryReactor* SessionServiceImpl::ResetSession(grpc::CallbackServerContext* context,
                                                           const pb::SessionRef* request,
                                                           pb::SessionInfo* response) {
  return WithSession(context, "ResetSession", request->session_id(), SessionStore::Use::kStep,
                     [this, response](Found found, absl::Time now) {
                       return PastGate(gate_, [&] { return Reset(found, now, response); });
                     });
}

grpc::ServerUnaryReactor* SessionServiceImpl::DescribeSession(
    grpc::CallbackServerContext* context, const pb::SessionRef* request,
    pb::SessionInfo* response) {
  return WithSession(context, "DescribeSession", request->session_id(),
                     SessionStore::Use::kLookOnly, [response](Found found, absl::Time now) {
                       RNN_RETURN_IF_ERROR(found.status());
                       FillInfo(**found, now, response);
                       return absl::OkStatus();
                     });
}

grpc::ServerUnaryReactor* SessionServiceImpl::ExportState(grpc::CallbackServerContext* context,
                                                          const pb::SessionRef* request,
                                                          pb::SessionState* response) {
  return WithSession(context, "ExportState", request->session_id(), SessionStore::Use::kLookOnly,
                     [this, response](Found found, absl::Time) {
                       RNN_RETURN_IF_ERROR(found.status());
                       return ExportSession(**found, *models_, response);
                     });
}

grpc::ServerUnaryReactor* SessionServiceImpl::ImportState(grpc::CallbackServerContext* context,
                                                          const pb::SessionState* request,
                                                          pb::SessionInfo* response) {
  if (absl::Status allowed = Allowed(token_, *context); !allowed.ok()) {
    return FinishUnary(context, allowed, "ImportState", metrics_);
  }
  const auto import = [this, request, response] {
    return PastGate(gate_, [&] { return Import(*request, response); });
  };
  if (tier_ == nullptr) return FinishUnary(context, import(), "ImportState", metrics_);
  // Claiming the import waits on Redis.
  return FinishOffCallbackThread(context, "ImportState", [import](absl::Status queued) {
    RNN_RETURN_IF_ERROR(queued);
    return import();
  });
}

template <typename Op>
grpc::ServerUnaryReactor* SessionServiceImpl::WithSession(grpc::CallbackServerContext* context,
                                                          const char* method, const std::string& id,
                                                          SessionStore::Use use, Op op) {
  if (absl::Status allowed = Allowed(token_, *context); !allowed.ok()) {
    return FinishUnary(context, allowed, method, metrics_);
  }
  const absl::Time now = clock_();
  std::optional<Found> local = LookUpLocally(*store_, tier_, id, now, use);
  if (local.has_value()) return FinishUnary(context, op(*std::move(local), now), method, metrics_);
  // Only the tier can say where the session is (a Redis round trip, maybe a
  // call to its owner).
  return FinishOffCallbackThread(
      context, method, [this, id, use, now, op = std::move(op)](absl::Status queued) mutable {
        RNN_RETURN_IF_ERROR(queued);
        return op(LookUpSession(*store_, tier_, id, now, use), now);
      });
}

template <typename Task>
grpc::ServerUnaryReactor* SessionServiceImpl::FinishOffCallbackThread(
    grpc::CallbackServerContext* context, const char* method, Task task) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  tier_->RunLookup([this, reactor, method, task = std::move(task)](absl::Status queued) mutable {
    const absl::Status status = task(std::move(queued));
    if (metrics_ != nullptr) metrics_->CountRequest(method, status.code());
    reactor->Finish(ToGrpcStatus(status));
  });
  return reactor;
}

absl::Status SessionServiceImpl::End(Found found, absl::Time now, pb::SessionInfo* info) {
  RNN_ASSIGN_OR_RETURN(const SessionPtr session, std::move(found));
  FillInfo(*session, now, info);
  return store_->End(session->id());
}

absl::Status SessionServiceImpl::Reset(Found found, absl::Time now, pb::SessionInfo* info) {
  RNN_ASSIGN_OR_RETURN(SessionPtr session, std::move(found));
  std::string name;
  int version = 0;
  {
    absl::MutexLock lock(&session->mu());
    name = session->model().name;
    version = session->model().version;
  }
  // Held through Start, so the version (retired, maybe) cannot be freed
  // before the session draws from its pool again.
  RNN_ASSIGN_OR_RETURN(const ServedModelPtr served, models_->FindForSession(name, version));
  // Start takes session->mu() itself (after any step running on it).
  RNN_ASSIGN_OR_RETURN(session, store_->Start(session->id(), served->ref(), now));
  FillInfo(*session, now, info);
  return absl::OkStatus();
}

absl::Status SessionServiceImpl::Import(const pb::SessionState& state, pb::SessionInfo* info) {
  const absl::Time now = clock_();
  RNN_ASSIGN_OR_RETURN(const SessionPtr session, ImportSession(state, *models_, *store_, now));
  if (tier_ != nullptr) tier_->ClaimImported(*session);
  FillInfo(*session, now, info);
  return absl::OkStatus();
}

}  // namespace rnnserve::server
