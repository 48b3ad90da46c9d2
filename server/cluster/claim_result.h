// How a replica claims a session in the session store, and what it learns
// (SessionDirectory::Claim).
#ifndef RNNSERVE_SERVER_CLUSTER_CLAIM_RESULT_H_
#define RNNSERVE_SERVER_CLUSTER_CLAIM_RESULT_H_

#include <cstdint>
#include <string>

namespace rnnserve::cluster {

enum class ClaimMode {
  kStart,  // A new session (start=true): the record's checkpoint is dropped.
  kTake,   // The session goes on here: the checkpoint is kept and returned.
};

struct ClaimResult {
  bool won = false;
  // won: the new epoch. Lost: the record's current epoch (0 when missing).
  int64_t epoch = 0;
  // won: the owner and epoch before this claim ("" and 0 when there was no
  // record). Lost: the record's current owner and epoch.
  std::string previous_owner;
  int64_t previous_epoch = 0;
  // won by kTake: the checkpoint taken over. kStart: 0 and empty. Lost: the
  // record's checkpoint steps and no bytes.
  int64_t checkpoint_steps = 0;
  std::string checkpoint;
};

}  // namespace rnnserve::cluster

#endif  // RNNSERVE_SERVER_CLUSTER_CLAIM_RESULT_H_
