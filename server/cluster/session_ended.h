// How a replica asked for a session (TakeSession) says that the session
// ended there and its record is not deleted yet (the checkpoint writer
// deletes it on its next pass): the asking replica then answers NOT_FOUND,
// as the owner would, instead of restoring the record's checkpoint, which
// would bring an ended session back. A plain NOT_FOUND from the owner means
// it lost the session (a restart): then the checkpoint is the session.
// Over gRPC the mark is a trailer, in absl::Status a payload.
#ifndef RNNSERVE_SERVER_CLUSTER_SESSION_ENDED_H_
#define RNNSERVE_SERVER_CLUSTER_SESSION_ENDED_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace rnnserve::cluster {

inline constexpr char kSessionEndedTrailer[] = "rnnserve-session-ended";
inline constexpr char kSessionEndedPayload[] = "type.rnnserve.dev/session-ended";

inline absl::Status SessionEnded(const std::string& id, const std::string& where) {
  absl::Status status =
      absl::NotFoundError(absl::StrCat("session \"", id, "\" ended on replica ", where));
  status.SetPayload(kSessionEndedPayload, absl::Cord("1"));
  return status;
}

inline bool IsSessionEnded(const absl::Status& status) {
  return absl::IsNotFound(status) && status.GetPayload(kSessionEndedPayload).has_value();
}

}  // namespace rnnserve::cluster

#endif  // RNNSERVE_SERVER_CLUSTER_SESSION_ENDED_H_
