// API messages as JSON for --json outputs: the standard proto3 JSON mapping
// (field names as in proto/rnnserve/v1/*.proto, enums by name, int64 as
// strings, every field printed even when zero), so scripts see the same
// names as the API.
#ifndef RNNSERVE_CLIENT_PROTO_JSON_H_
#define RNNSERVE_CLIENT_PROTO_JSON_H_

#include <string>

#include "google/protobuf/message.h"

namespace rnnserve::client {

// One line of JSON, no trailing newline.
std::string ToJson(const google::protobuf::Message& message);

}  // namespace rnnserve::client

#endif  // RNNSERVE_CLIENT_PROTO_JSON_H_
