// The Open Inference Protocol's JSON response bodies (HTTP/REST), written
// from the same messages the gRPC front end sends: the inference response,
// server and model metadata, and the error object {"error": "..."}.
// Stateless; thread-safe.
#ifndef RNNSERVE_SERVER_V2_JSON_RESPONSES_H_
#define RNNSERVE_SERVER_V2_JSON_RESPONSES_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "inference/grpc_service.pb.h"

namespace rnnserve::server::v2 {

// {"model_name", "model_version", "id", "parameters", "outputs": [{"name",
// "datatype", "shape", "data"}]}: typed contents as a flat `data` array,
// raw contents decoded (FP32, little-endian). NaN and infinities, which
// JSON cannot hold, are written as null.
std::string InferResponseJson(const inference::ModelInferResponse& response);

// {"name", "version", "extensions"}.
std::string ServerMetadataJson(const inference::ServerMetadataResponse& metadata);

// {"name", "versions", "platform", "inputs", "outputs"}.
std::string ModelMetadataJson(const inference::ModelMetadataResponse& metadata);

// {"error": message} (bytes that are not UTF-8 replaced), with
// "session_steps" when the error says where the session stands.
std::string ErrorJson(absl::string_view message, std::optional<int64_t> session_steps);

}  // namespace rnnserve::server::v2

#endif  // RNNSERVE_SERVER_V2_JSON_RESPONSES_H_
