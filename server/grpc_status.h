// The one conversion between absl::Status and gRPC's (STYLE.md): absl and
// gRPC share google.rpc.Code numbers, so the code is cast and the message
// copied.
#ifndef RNNSERVE_SERVER_GRPC_STATUS_H_
#define RNNSERVE_SERVER_GRPC_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "grpcpp/support/status.h"
#include "server/metrics.h"

namespace rnnserve::server {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

// For the server's own outgoing calls (the session handoff).
inline absl::Status ToAbslStatus(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

// Finishes a unary callback call with `status`, counting it under
// `protocol` and `method` in rnnserve_requests_total when `metrics` is set.
inline grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context,
                                             const absl::Status& status, const std::string& method,
                                             ServerMetrics* metrics,
                                             RequestProtocol protocol = RequestProtocol::kNative) {
  if (metrics != nullptr) metrics->CountRequest(protocol, method, status.code());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_GRPC_STATUS_H_
