// The Open Inference Protocol's JSON inference request (the HTTP/REST body
// of POST /v2/models/{name}[/versions/{v}]/infer) as the ModelInferRequest
// the gRPC front end receives, so that both go through the one mapping
// (infer_request.h) and the one runner. This file reads JSON only: it
// checks the request's structure (objects, arrays, value types) and leaves
// the meaning (names, datatypes, shapes against data, parameters) to
// ToNativeRequest. Stateless; thread-safe.
//
//   {"id": "...", "parameters": {"sequence_id": 7, "sequence_start": true},
//    "inputs": [{"name": "input", "shape": [2, 3], "datatype": "FP32",
//                "data": [[1, 2, 3], [4, 5, 6]]}],
//    "outputs": [{"name": "output"}]}
//
// Parameters: a JSON bool is bool_param, a non-negative integer
// uint64_param, a negative one int64_param, another number double_param, a
// string string_param. `data` is flat or nested row-major; its numbers go
// to fp32_contents (FP32), int64_contents (INT64) or int_contents (INT32);
// another datatype's data is not read (the mapping refuses the datatype).
#ifndef RNNSERVE_SERVER_V2_JSON_INFER_REQUEST_H_
#define RNNSERVE_SERVER_V2_JSON_INFER_REQUEST_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "inference/grpc_service.pb.h"

namespace rnnserve::server::v2 {

// Deepest nesting of arrays and objects a request may have: a request needs
// 6 ([1, T, F] data inside an input inside `inputs`); the limit keeps a
// hostile body from costing more than its bytes.
inline constexpr int kMaxJsonDepth = 32;

// INVALID_ARGUMENT, saying where and what was expected, for a body that is
// not JSON (UTF-8 included), nests deeper than kMaxJsonDepth, or does not
// have the request's structure. `model_name` and `model_version` come from
// the URL.
absl::StatusOr<inference::ModelInferRequest> ParseJsonInferRequest(
    absl::string_view body, const std::string& model_name, const std::string& model_version);

}  // namespace rnnserve::server::v2

#endif  // RNNSERVE_SERVER_V2_JSON_INFER_REQUEST_H_
