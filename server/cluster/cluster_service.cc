#include "server/cluster/cluster_service.h"

#include "server/grpc_status.h"

namespace rnnserve::cluster {

grpc::ServerUnaryReactor* ClusterServiceImpl::TakeSession(grpc::CallbackServerContext* context,
                                                          const v1::TakeSessionRequest* request,
                                                          v1::SessionState* response) {
  const absl::Status status = server::RunIfAllowed(token_, *context, [&]() -> absl::Status {
    if (const absl::Status entered = gate_->Enter(); !entered.ok()) return entered;
    absl::StatusOr<v1::SessionState> state = tier_->HandOver(*request);
    gate_->Exit();
    if (!state.ok()) return state.status();
    *response = *std::move(state);
    return absl::OkStatus();
  });
  return server::FinishUnary(context, status, "TakeSession", metrics_);
}

}  // namespace rnnserve::cluster
