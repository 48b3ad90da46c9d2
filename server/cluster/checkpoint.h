// One checkpoint on its way to the session store, and what became of it
// (SessionDirectory::WriteCheckpoints).
#ifndef RNNSERVE_SERVER_CLUSTER_CHECKPOINT_H_
#define RNNSERVE_SERVER_CLUSTER_CHECKPOINT_H_

#include <cstdint>
#include <string>

namespace rnnserve::cluster {

struct Checkpoint {
  std::string session_id;
  int64_t epoch = 0;  // The epoch the writer owns the session at.
  int64_t steps = 0;
  std::string state;  // CheckpointEncoder::Encode's bytes.
};

enum class CheckpointOutcome {
  kWritten,  // Also when the record was missing (Redis came back empty).
  kOlder,    // Same epoch, and the record holds more steps: nothing written.
  kFenced,   // Another owner or epoch holds the record: drop the local copy.
};

}  // namespace rnnserve::cluster

#endif  // RNNSERVE_SERVER_CLUSTER_CHECKPOINT_H_
