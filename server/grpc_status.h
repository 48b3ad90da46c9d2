// The one conversion from absl::Status to gRPC (STYLE.md): absl and gRPC
// share google.rpc.Code numbers, so the code is cast and the message copied.
#ifndef RNNSERVE_SERVER_GRPC_STATUS_H_
#define RNNSERVE_SERVER_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace rnnserve::server {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_GRPC_STATUS_H_
