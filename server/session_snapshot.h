// Every live session of a server in one file, so a restart loses no session
// and a crash loses at most what changed since the last periodic snapshot
// (issue 8). The file: the line "rnnserve-snapshot 1\n"; per session a varint
// length and a serialized v1::SessionState (the ExportState form); then a
// varint 0 and the session count as a little-endian fixed64, so a truncated
// file is told apart from a complete one. Written atomically: a temp file in
// the same folder, fsync, rename over the old snapshot, fsync of the folder.
#ifndef RNNSERVE_SERVER_SESSION_SNAPSHOT_H_
#define RNNSERVE_SERVER_SESSION_SNAPSHOT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/served_models.h"
#include "server/session_store.h"

namespace rnnserve::server {

// Writes every session of `store` to `path`; returns how many. Each session
// is read under its own mutex, so steps go on meanwhile and each session is
// saved between two of its steps. A session whose model is gone is left out.
absl::StatusOr<int64_t> WriteSnapshot(const std::string& path, SessionStore& store,
                                      const ServedModels& models);

struct RestoreResult {
  int64_t restored = 0;
  int64_t skipped = 0;
  // Why sessions were skipped (a changed model's fingerprint, a model no
  // longer served, the session limit): the first few messages.
  std::vector<std::string> problems;
};

// Imports every session of the snapshot at `path` into `store`, used at
// `now`. NOT_FOUND when there is no file; DATA_LOSS for a file that is not a
// complete snapshot (nothing is imported then). A session that no longer
// fits (see ImportSession) is skipped and counted, not fatal.
absl::StatusOr<RestoreResult> RestoreSnapshot(const std::string& path, const ServedModels& models,
                                              SessionStore& store, absl::Time now);

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_SESSION_SNAPSHOT_H_
