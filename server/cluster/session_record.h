// A session's record in the session store: its owner, epoch and last
// checkpoint (server/cluster/session_directory.h reads and writes them).
#ifndef RNNSERVE_SERVER_CLUSTER_SESSION_RECORD_H_
#define RNNSERVE_SERVER_CLUSTER_SESSION_RECORD_H_

#include <cstdint>
#include <string>

namespace rnnserve::cluster {

// The owner of a record whose replica stopped gracefully after writing the
// session's final checkpoint (SessionDirectory::Release): restoring it loses
// nothing. Never an advertised HOST:PORT.
inline constexpr char kReleasedOwner[] = "-";

struct SessionRecord {
  int64_t epoch = 0;
  std::string owner;
  int64_t checkpoint_steps = 0;
  std::string checkpoint;  // Empty before the first checkpoint.
};

}  // namespace rnnserve::cluster

#endif  // RNNSERVE_SERVER_CLUSTER_SESSION_RECORD_H_
