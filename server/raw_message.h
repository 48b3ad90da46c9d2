// Parsing and serializing InferenceService's messages ourselves: its methods
// are raw (grpc::ByteBuffer) on the callback API, because gRPC 1.51 answers a
// request it cannot parse (malformed bytes, a string field that is not UTF-8)
// with UNIMPLEMENTED and no message on a unary call, and on a stream reports
// it to the reactor exactly like the client's half-close, so the stream ended
// OK with the request silently unanswered. Parsing here makes it
// INVALID_ARGUMENT with a reason, and on a stream an error response after
// which the stream goes on. Stateless; thread-safe.
#ifndef RNNSERVE_SERVER_RAW_MESSAGE_H_
#define RNNSERVE_SERVER_RAW_MESSAGE_H_

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "grpcpp/support/proto_buffer_writer.h"

namespace rnnserve::server {

// Parses `bytes` into `message` (cleared first; left cleared on failure).
// INVALID_ARGUMENT when they are not a valid message of its type.
inline absl::Status ParseMessage(const grpc::ByteBuffer& bytes,
                                 grpc::protobuf::MessageLite& message) {
  message.Clear();
  grpc::ByteBuffer view(bytes);  // shares the slices; the reader needs a non-const one
  grpc::ProtoBufferReader reader(&view);
  if (reader.status().ok() && message.ParseFromZeroCopyStream(&reader)) {
    return absl::OkStatus();
  }
  message.Clear();
  return absl::InvalidArgumentError(
      absl::StrCat("the request is not a valid ", message.GetTypeName(),
                   ": malformed protobuf, or a string field that is not UTF-8"));
}

// `message` as the bytes gRPC sends, replacing what `bytes` held; what the
// generated code does for a typed method.
inline grpc::Status SerializeMessage(const grpc::protobuf::MessageLite& message,
                                     grpc::ByteBuffer& bytes) {
  bytes.Clear();  // ProtoBufferWriter wants an empty buffer.
  bool own_buffer;
  return grpc::GenericSerialize<grpc::ProtoBufferWriter, grpc::protobuf::MessageLite>(
      message, &bytes, &own_buffer);
}

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_RAW_MESSAGE_H_
