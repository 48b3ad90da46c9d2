// Where a session stands, carried on the error of a step that was not
// applied because the client's count of the session's steps is not the
// server's (README "Sessions across replicas"): the session came back from
// a checkpoint behind the client, or a step of the client's was lost. The
// stream puts the count in StepResponse.session_steps, the unary call in the
// trailing metadata kSessionStepsTrailer; the client sends again the steps
// after it.
#ifndef RNNSERVE_SERVER_SESSION_POSITION_H_
#define RNNSERVE_SERVER_SESSION_POSITION_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace rnnserve::server {

inline constexpr char kSessionStepsPayload[] = "type.rnnserve.dev/session_steps";
inline constexpr char kSessionStepsTrailer[] = "rnnserve-session-steps";

// ABORTED with `message`, saying that the session stands at `steps`.
inline absl::Status SessionStandsAtError(const std::string& message, int64_t steps) {
  absl::Status status = absl::AbortedError(message);
  status.SetPayload(kSessionStepsPayload, absl::Cord(absl::StrCat(steps)));
  return status;
}

// The steps a SessionStandsAtError names; nullopt for any other status.
inline std::optional<int64_t> SessionStepsOf(const absl::Status& status) {
  const auto payload = status.GetPayload(kSessionStepsPayload);  // absl::optional
  int64_t steps = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &steps)) {
    return std::nullopt;
  }
  return steps;
}

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_SESSION_POSITION_H_
