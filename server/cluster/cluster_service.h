// rnnserve.v1.ClusterService over gRPC's callback API: the replicas of one
// deployment hand sessions over to each other (server/cluster/session_tier.h).
// Registered only with --session_store; the same bearer token as every other
// service; refused (UNAVAILABLE) once the server is stopping, when its
// sessions go into checkpoints and the handoff instead.
#ifndef RNNSERVE_SERVER_CLUSTER_CLUSTER_SERVICE_H_
#define RNNSERVE_SERVER_CLUSTER_CLUSTER_SERVICE_H_

#include "rnnserve/v1/cluster.grpc.pb.h"
#include "server/cluster/session_tier.h"
#include "server/metrics.h"
#include "server/operation_gate.h"
#include "server/token_check.h"

namespace rnnserve::cluster {

class ClusterServiceImpl final : public v1::ClusterService::CallbackService {
 public:
  // None owned; all outlive the service. `token` and `metrics` may be null.
  ClusterServiceImpl(SessionTier* tier, server::OperationGate* gate,
                     const server::TokenCheck* token, server::ServerMetrics* metrics)
      : tier_(tier), gate_(gate), token_(token), metrics_(metrics) {}

  grpc::ServerUnaryReactor* TakeSession(grpc::CallbackServerContext* context,
                                        const v1::TakeSessionRequest* request,
                                        v1::SessionState* response) override;

 private:
  SessionTier* const tier_;
  server::OperationGate* const gate_;
  const server::TokenCheck* const token_;
  server::ServerMetrics* const metrics_;
};

}  // namespace rnnserve::cluster

#endif  // RNNSERVE_SERVER_CLUSTER_CLUSTER_SERVICE_H_
