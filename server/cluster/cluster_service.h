// rnnserve.v1.ClusterService over gRPC's callback API: the replicas of one
// deployment hand sessions over to each other (server/cluster/session_tier.h).
// Registered only with --session_store; the same bearer token as every other
// service; still answered while the server stops (its sessions' states are
// final then).
#ifndef RNNSERVE_SERVER_CLUSTER_CLUSTER_SERVICE_H_
#define RNNSERVE_SERVER_CLUSTER_CLUSTER_SERVICE_H_

#include "rnnserve/v1/cluster.grpc.pb.h"
#include "server/cluster/session_tier.h"
#include "server/metrics.h"
#include "server/token_check.h"

namespace rnnserve::cluster {

class ClusterServiceImpl final : public v1::ClusterService::CallbackService {
 public:
  // None owned; all outlive the service. `token` and `metrics` may be null.
  ClusterServiceImpl(SessionTier* tier, const server::TokenCheck* token,
                     server::ServerMetrics* metrics)
      : tier_(tier), token_(token), metrics_(metrics) {}

  grpc::ServerUnaryReactor* TakeSession(grpc::CallbackServerContext* context,
                                        const v1::TakeSessionRequest* request,
                                        v1::SessionState* response) override;

 private:
  SessionTier* const tier_;
  const server::TokenCheck* const token_;
  server::ServerMetrics* const metrics_;
};

}  // namespace rnnserve::cluster

#endif  // RNNSERVE_SERVER_CLUSTER_CLUSTER_SERVICE_H_
