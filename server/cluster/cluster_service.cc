#include "server/cluster/cluster_service.h"

#include "server/cluster/session_ended.h"
#include "server/grpc_status.h"

namespace rnnserve::cluster {

grpc::ServerUnaryReactor* ClusterServiceImpl::TakeSession(grpc::CallbackServerContext* context,
                                                          const v1::TakeSessionRequest* request,
                                                          v1::SessionState* response) {
  const absl::Status status = server::RunIfAllowed(token_, *context, [&]() -> absl::Status {
    // Not through the gate: a stopping server still hands its sessions over
    // exactly (no step runs any more, so its state is final).
    absl::StatusOr<v1::SessionState> state = tier_->HandOver(*request);
    if (!state.ok()) return state.status();
    *response = *std::move(state);
    return absl::OkStatus();
  });
  if (IsSessionEnded(status)) context->AddTrailingMetadata(kSessionEndedTrailer, "1");
  return server::FinishUnary(context, status, "TakeSession", metrics_);
}

}  // namespace rnnserve::cluster
