// Steps of a fixture's reference sequence as requests, and whether an answer
// carries the reference output: for the tests that step a real server.
#ifndef RNNSERVE_TESTS_SERVER_REFERENCE_STEPS_H_
#define RNNSERVE_TESTS_SERVER_REFERENCE_STEPS_H_

#include <cmath>
#include <string>

#include "rnnserve/v1/inference.pb.h"
#include "tests/model/test_util.h"

namespace rnnserve::server {

// Step `t` of `seq` for session `id` of model `model` (start at t == 0).
inline v1::StepRequest ReferenceStep(const std::string& model, const std::string& id,
                                     const model::testing::ReferenceSequence& seq, int64_t t) {
  v1::StepRequest request;
  request.set_session_id(id);
  request.set_start(t == 0);
  request.mutable_model()->set_name(model);
  const int64_t width = seq.input.shape[1];
  request.mutable_floats()->mutable_values()->Assign(seq.input.floats.begin() + t * width,
                                                     seq.input.floats.begin() + (t + 1) * width);
  return request;
}

// Whether `response` is the answer to step `t` of `seq`: its outputs within
// 1e-5 of the reference, and the session at t + 1 steps.
inline bool MatchesReference(const v1::StepResponse& response,
                             const model::testing::ReferenceSequence& seq, int64_t t) {
  const int64_t width = seq.expected.shape[1];
  if (response.has_error() || response.outputs().values_size() != width) return false;
  for (int64_t j = 0; j < width; ++j) {
    if (std::abs(response.outputs().values(j) - seq.expected.floats[t * width + j]) > 1e-5) {
      return false;
    }
  }
  return response.session_steps() == t + 1;
}

}  // namespace rnnserve::server

#endif  // RNNSERVE_TESTS_SERVER_REFERENCE_STEPS_H_
