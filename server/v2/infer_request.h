// The Open Inference Protocol's inference request (KServe v2, Triton's
// sequence extension) as a native rnnserve request: the one place a v2
// request is read, for every front end (gRPC now, HTTP/REST later). It checks
// what the native API cannot see (tensor names, datatypes, shapes against
// the data, the sequence parameters) and leaves the rest (session, limits,
// values) to StepHandler, exactly as for a native request. Stateless;
// thread-safe.
//
// The mapping (README "Using Triton / KServe clients"):
//   input `input`: FP32 [T, input_size] (or [1, T, input_size]), or for a
//     model that starts with an embedding INT64/INT32 token ids [T] (or
//     [1, T]); data in `contents` or `raw_input_contents` (little-endian);
//   parameters: `sequence_id` (uint64/int64 >= 1 as its decimal string, or a
//     non-empty string) = the session; `sequence_start` starts (or restarts)
//     it; `sequence_end` ends it after this request; no sequence_id = a
//     stateless whole-sequence run; rnnserve's `output_mode` (`all_steps`,
//     `last_step`). Other parameters are ignored, as Triton ignores them.
//   outputs: only `output` exists; an empty list asks for it.
#ifndef RNNSERVE_SERVER_V2_INFER_REQUEST_H_
#define RNNSERVE_SERVER_V2_INFER_REQUEST_H_

#include <string>
#include <variant>

#include "absl/status/statusor.h"
#include "inference/grpc_service.pb.h"
#include "rnnserve/v1/inference.pb.h"
#include "server/served_models.h"

namespace rnnserve::server::v2 {

inline constexpr char kInputName[] = "input";
inline constexpr char kOutputName[] = "output";

// How the answer to a request is written, as the request was.
struct ResponseForm {
  std::string id;          // the request's `id`, echoed
  bool raw = false;        // raw_output_contents (the input came raw), else typed contents
  bool batch_dim = false;  // the input had a leading batch dimension of 1: so has the output
};

// A v2 request in native terms: a step of a session (sequence_id given) or a
// stateless whole sequence.
struct NativeRequest {
  std::variant<v1::StepRequest, v1::SequenceRequest> call;
  ResponseForm form;
};

// INVALID_ARGUMENT for a request that breaks the mapping above (wrong input
// name or count, datatype, shape, data size, parameter type or value, an
// output other than `output`), saying what was expected; NOT_FOUND for a
// model `models` does not serve. The input's values (NaN, token range) and
// the session are checked later, by StepHandler.
absl::StatusOr<NativeRequest> ToNativeRequest(const inference::ModelInferRequest& request,
                                              const ServedModels& models);

// A model_version string as the native version number: "" is 0 (the newest).
// INVALID_ARGUMENT unless it is empty or a decimal in [1, 2^31).
absl::StatusOr<int> ParseModelVersion(const std::string& version);

}  // namespace rnnserve::server::v2

#endif  // RNNSERVE_SERVER_V2_INFER_REQUEST_H_
