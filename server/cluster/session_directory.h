// Who owns which session, and its last checkpoint, kept in Redis
// (ISSUE13.md, "Redis data model"; DESIGN.md section 7). One string per
// session, `<prefix>:s:<id>` = "<epoch> <checkpoint steps> <owner>\n" then the
// checkpoint bytes (checkpoint_codec.h; empty before the first checkpoint),
// and one set per replica, `<prefix>:fence:<owner>`, of the sessions it must
// drop. Every write is a Lua script so each compare and
// set is atomic.
#ifndef RNNSERVE_SERVER_CLUSTER_SESSION_DIRECTORY_H_
#define RNNSERVE_SERVER_CLUSTER_SESSION_DIRECTORY_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/cluster/checkpoint.h"
#include "server/cluster/claim_result.h"
#include "server/cluster/redis_connection.h"
#include "server/cluster/redis_pool.h"
#include "server/cluster/session_record.h"

namespace rnnserve::cluster {

// The directory as seen by one replica, `me` (its advertised HOST:PORT).
// Thread-safe: every call borrows its own connection from the pool.
// Errors: INVALID_ARGUMENT for a bad argument (an empty session id; an owner
// that is empty, longer than 255 bytes or holds a space or a newline),
// UNAVAILABLE when Redis cannot be reached or times out, UNAUTHENTICATED when
// it refuses the password, DATA_LOSS naming the key when a record cannot be
// read (not a string, or no valid header).
class SessionDirectory {
 public:
  // `pool` is not owned and outlives the directory. Every record written
  // (claimed, checkpointed, released or handed over) expires `record_ttl`
  // after, so that the sessions of a replica that crashed, which no client
  // comes back for, do not stay in Redis for good; infinite (or not
  // positive): never.
  SessionDirectory(RedisPool* pool, std::string prefix, std::string me,
                   absl::Duration record_ttl = absl::InfiniteDuration());

  // The record of `id`, or nullopt when there is none.
  absl::StatusOr<std::optional<SessionRecord>> Lookup(const std::string& id);
  // Lookup without the checkpoint's bytes (`checkpoint` empty; its steps
  // are there): for whoever asks only who owns the session and at which
  // epoch, which a state of any size need not cross the wire for. Two round
  // trips when there is no record, one otherwise.
  absl::StatusOr<std::optional<SessionRecord>> LookupHeader(const std::string& id);
  // Makes `me` the owner of `id` at the next epoch (1 when there was no
  // record), unless `expected_epoch` is set and differs from the record's
  // (0 when missing), or the mode is kTake and there is no record: then
  // won=false with the record as it stands.
  absl::StatusOr<ClaimResult> Claim(const std::string& id, ClaimMode mode,
                                    std::optional<int64_t> expected_epoch);
  // Claim(id, kStart, nullopt) for each id, in one pipelined round trip;
  // results in order.
  absl::StatusOr<std::vector<ClaimResult>> ClaimStarts(absl::Span<const std::string> ids);
  // One pipelined round trip for the whole batch; outcomes in order. An
  // unreadable record fails the whole call with DATA_LOSS (the other
  // checkpoints of the batch were still processed).
  absl::StatusOr<std::vector<CheckpointOutcome>> WriteCheckpoints(
      absl::Span<const Checkpoint> checkpoints);
  // Deletes each record that `me` owns at that epoch; others stay. One round
  // trip.
  absl::Status Forget(absl::Span<const std::pair<std::string, int64_t>> ids_and_epochs);
  // Marks each record `me` owns at that epoch as released (owner
  // kReleasedOwner): its checkpoint is the session's exact last state,
  // written by a replica that stopped gracefully. Others stay. One round trip.
  absl::Status Release(absl::Span<const std::pair<std::string, int64_t>> ids_and_epochs);
  // Keeps the state `me` just handed over to `new_owner` (who claimed the
  // session at checkpoint.epoch) as the record's checkpoint, if the record
  // still names that owner and epoch and holds no more steps: a new owner
  // whose TakeSession call timed out after `me` gave the session away finds
  // it there. One round trip.
  absl::Status WriteHandover(const std::string& new_owner, const Checkpoint& checkpoint);
  // Tells `owner` to drop `id` (it was unreachable when `me` took it). The
  // fence set expires a day after its last fence, so the sets of replicas
  // that never come back (a crashed pod's IP) do not stay.
  absl::Status Fence(const std::string& owner, const std::string& id);
  // The sessions other replicas told `me` to drop, removed as they are read.
  absl::StatusOr<std::vector<std::string>> DrainFences();
  absl::Status Ping();
  // Renews this replica's presence mark (`<prefix>:replica:<me>`, expiring
  // after `ttl`): false when the mark was missing, i.e. this is the first
  // renewal, the replica was silent for `ttl`, or Redis lost its data (came
  // back empty). Then the caller writes all its sessions again.
  absl::StatusOr<bool> RenewPresence(absl::Duration ttl);

  const std::string& me() const { return me_; }

 private:
  enum Script {
    kClaimScript,
    kCheckpointScript,
    kForgetScript,
    kReleaseScript,
    kHandoverScript,
    kDrainScript,
    kScriptCount
  };
  // Runs `script` (ARGV me, epoch) on the record of each id; integer replies.
  absl::Status RunPerRecord(Script script,
                            absl::Span<const std::pair<std::string, int64_t>> ids_and_epochs,
                            const char* what);
  // Runs `script` once per argument list (each `keys` keys first), pipelined:
  // EVALSHA, then EVAL for those that came back NOSCRIPT (Redis restarted
  // empty or was flushed). Replies in order; Redis errors stay replies.
  absl::StatusOr<std::vector<RedisReply>> RunScript(Script script, int keys,
                                                    absl::Span<const RedisCommand> args);
  absl::StatusOr<std::string> ScriptSha(Script script, RedisConnection& connection);
  static std::array<std::string, kScriptCount> Scripts(absl::Duration record_ttl);
  std::string RecordKey(const std::string& id) const;

  RedisPool* const pool_;  // Not owned.
  const std::string prefix_;
  const std::string me_;
  const absl::Status me_valid_;  // Returned by every call when `me` is bad.
  const std::array<std::string, kScriptCount> scripts_;
  absl::Mutex mu_;
  // SHA1 of each script from SCRIPT LOAD; empty until loaded once.
  std::array<std::string, kScriptCount> shas_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rnnserve::cluster

#endif  // RNNSERVE_SERVER_CLUSTER_SESSION_DIRECTORY_H_
