// A bidirectional stream refused before it starts (no token): it finishes
// at once with the refusal and deletes itself when gRPC is done with it.
#ifndef RNNSERVE_SERVER_REFUSED_STREAM_H_
#define RNNSERVE_SERVER_REFUSED_STREAM_H_

#include "absl/status/status.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/server_callback.h"
#include "server/grpc_status.h"

namespace rnnserve::server {

class RefusedStream final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  explicit RefusedStream(const absl::Status& status) { Finish(ToGrpcStatus(status)); }

 private:
  void OnDone() override { delete this; }
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_REFUSED_STREAM_H_
