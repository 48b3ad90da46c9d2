// The request parameters of Triton's sequence extension, and rnnserve's
// output_mode, read from a v2 request's parameter map. Stateless.
#ifndef RNNSERVE_SERVER_V2_SEQUENCE_PARAMETERS_H_
#define RNNSERVE_SERVER_V2_SEQUENCE_PARAMETERS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "google/protobuf/map.h"
#include "inference/grpc_service.pb.h"
#include "rnnserve/v1/types.pb.h"

namespace rnnserve::server::v2 {

struct SequenceParameters {
  // The session id: a string sequence_id as it is, an integer one as its
  // decimal digits. Empty: no sequence (a stateless run).
  std::string sequence_id;
  bool start = false;  // sequence_start
  bool end = false;    // sequence_end
  v1::OutputMode output_mode = v1::OUTPUT_MODE_ALL_STEPS;
  // rnnserve's expected_session_steps (README "Sessions across replicas"):
  // the session's steps before this request as the client counts them; a
  // session elsewhere answers ABORTED with where it stands.
  std::optional<int64_t> expected_session_steps;
};

// INVALID_ARGUMENT for a sequence parameter of the wrong type (sequence_id:
// uint64, int64 or string; sequence_start/end: bool; output_mode: the string
// `all_steps` or `last_step`; expected_session_steps: an integer >= 0), a
// negative sequence_id, or sequence_start, sequence_end or
// expected_session_steps without a sequence_id. A sequence_id of 0 or "" is no
// sequence, as Triton's clients send it. Other parameters are ignored.
absl::StatusOr<SequenceParameters> ReadSequenceParameters(
    const google::protobuf::Map<std::string, inference::InferParameter>& parameters);

}  // namespace rnnserve::server::v2

#endif  // RNNSERVE_SERVER_V2_SEQUENCE_PARAMETERS_H_
