// A unary gRPC call with hand-made request bytes: for services whose stubs
// are not generated here (grpc.health.v1) and for malformed messages.
#ifndef RNNSERVE_TESTS_SERVER_RAW_CALL_H_
#define RNNSERVE_TESTS_SERVER_RAW_CALL_H_

#include <memory>
#include <string>
#include <vector>

#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"

namespace rnnserve::server {

struct RawReply {
  grpc::Status status;
  std::string body;  // The response bytes when status is OK.
};

// Calls `method` ("/package.Service/Method") on `channel` with `request` as
// the serialized message, and waits for the answer.
inline RawReply RawUnaryCall(const std::shared_ptr<grpc::Channel>& channel,
                             const std::string& method, const std::string& request) {
  grpc::ClientContext context;
  grpc::Slice slice(request);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::ByteBuffer response_buffer;
  grpc::GenericStub generic(channel);
  grpc::CompletionQueue cq;
  auto call = generic.PrepareUnaryCall(&context, method, request_buffer, &cq);
  call->StartCall();
  RawReply reply;
  call->Finish(&response_buffer, &reply.status, reinterpret_cast<void*>(1));
  void* tag;
  bool ok;
  cq.Next(&tag, &ok);
  std::vector<grpc::Slice> slices;
  if (reply.status.ok() && response_buffer.Dump(&slices).ok()) {
    for (const grpc::Slice& s : slices) reply.body.append(s.begin(), s.end());
  }
  return reply;
}

}  // namespace rnnserve::server

#endif  // RNNSERVE_TESTS_SERVER_RAW_CALL_H_
