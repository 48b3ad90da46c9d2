// Native outputs as the Open Inference Protocol's inference response: the
// one output `output` FP32 [rows, output_size] (with a leading 1 when the
// input had one), raw little-endian bytes when the request sent raw inputs,
// typed fp32_contents otherwise (as Triton answers); the request id echoed;
// a step's session_steps as the response parameter `session_steps`.
// Stateless; thread-safe.
#ifndef RNNSERVE_SERVER_V2_INFER_RESPONSE_H_
#define RNNSERVE_SERVER_V2_INFER_RESPONSE_H_

#include <cstdint>
#include <optional>

#include "inference/grpc_service.pb.h"
#include "rnnserve/v1/types.pb.h"
#include "server/v2/infer_request.h"

namespace rnnserve::server::v2 {

// `session_steps`: the session's steps after a stateful request; none for
// a stateless run. REQUIRES: outputs.shape() is [rows, output_size].
inference::ModelInferResponse ToInferResponse(const v1::Outputs& outputs, const v1::ModelRef& model,
                                              std::optional<int64_t> session_steps,
                                              const ResponseForm& form);

}  // namespace rnnserve::server::v2

#endif  // RNNSERVE_SERVER_V2_INFER_RESPONSE_H_
