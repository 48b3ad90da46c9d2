// The session tier's periodic work (DESIGN.md section 7, "write-behind"):
// every checkpoint interval, on a thread of its own, off the step path,
//  1. (also every half interval, on a thread of its own: the heartbeat)
//     reads the fences other replicas left for this one and drops those
//     stale copies; this round trip tells the tier Redis answers
//     (SessionTier::NeedsVerification);
//  2. deletes the records of sessions ended, expired or evicted here;
//  3. claims the sessions started while Redis was down;
//  4. writes the checkpoint of every session whose state changed and whose
//     every answer is out (so a crash never restores a step its client did
//     not see answered), in pipelined batches; a checkpoint Redis refuses as
//     fenced drops the local copy.
// Thread-safe; owned by SessionTier.
#ifndef RNNSERVE_SERVER_CLUSTER_CHECKPOINT_WRITER_H_
#define RNNSERVE_SERVER_CLUSTER_CHECKPOINT_WRITER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "server/cluster/checkpoint_codec.h"
#include "server/cluster/session_directory.h"
#include "server/session_store.h"

namespace rnnserve::cluster {

class SessionTier;

class CheckpointWriter {
 public:
  // Checkpoints per script call. Small: one call is one write() of about
  // 16 x 3 KB for charlm, and the kernel delivers a loopback or local write
  // without letting a waking step thread in first (PREEMPT_NONE, the usual
  // server kernel, and this SCHED_IDLE thread's syscalls alike); 256 to a
  // call (750 KB) put the 100 000-session step p99 at 1.2-1.5x without the
  // store, 16 at about 1.0 (README Performance, "Session store"). Redis's CPU
  // per checkpoint is about the same from 16 on.
  static constexpr int kBatchSessions = 16;

  explicit CheckpointWriter(SessionTier* tier) : tier_(tier) {}  // Not owned.
  ~CheckpointWriter();                                           // Stop().
  CheckpointWriter(const CheckpointWriter&) = delete;
  CheckpointWriter& operator=(const CheckpointWriter&) = delete;

  // Runs a pass every `interval` until Stop().
  void Start(absl::Duration interval);
  void Stop();
  // Passes that write every changed session, answered or not, until none is
  // left or `deadline` (shutdown: nothing steps any more), then releases them
  // all (their checkpoints are exact: SessionDirectory::Release), so the
  // replicas that take them over lose nothing. Call after Stop().
  void Flush(absl::Time deadline);

 private:
  // One pass; `all` ignores unanswered steps. False when Redis failed.
  bool RunPass(bool all);
  // Every live session on the first pass (a snapshot may have restored some
  // before the tier fed their changes), else those the store's ChangeFeed
  // names and those the last pass left: never a walk over every session.
  std::vector<server::SessionPtr> SessionsToVisit();
  bool UnclaimedSince(server::Session& session, int64_t now_ns) const;
  // Ping and DrainFences; false (counted) when Redis failed.
  bool Heartbeat();
  void ReleaseAll();
  bool DrainFences();
  void ForgetEnded();
  // A checkpoint of `session` came back fenced: drops it unless the record
  // still names this replica (then `changes` are given back).
  void DropIfFenced(server::Session& session, int64_t changes);
  // Writes `batch`; false when Redis failed (its changes are given back).
  bool WriteBatch();

  SessionTier* const tier_;
  CheckpointEncoder encoder_;  // Used by RunPass only, one pass at a time.
  // The batch being filled, with each session and the changes it took.
  std::vector<Checkpoint> batch_;
  std::vector<server::SessionPtr> batch_sessions_;
  std::vector<int64_t> batch_changes_;
  // Used by RunPass only. The ids of the sessions the last pass left for the
  // next (unanswered steps, not claimed yet, stale copies in their grace, or
  // Redis failed).
  bool visit_all_ = true;
  std::vector<std::string> left_;
  absl::Duration interval_ = absl::Seconds(1);
  std::atomic<bool> rewrite_all_{false};
  std::thread thread_;
  std::thread heartbeat_;
  absl::Notification stop_;
};

}  // namespace rnnserve::cluster

#endif  // RNNSERVE_SERVER_CLUSTER_CHECKPOINT_WRITER_H_
