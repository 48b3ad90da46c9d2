// Calls to the other replicas of the deployment (rnnserve.v1.ClusterService):
// asking a session's owner to hand it over. One channel per peer address,
// kept for reuse; plaintext, like --handoff_to (README "Sessions across
// replicas" says what that means with TLS). Thread-safe.
#ifndef RNNSERVE_SERVER_CLUSTER_PEER_CLIENT_H_
#define RNNSERVE_SERVER_CLUSTER_PEER_CLIENT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "rnnserve/v1/cluster.pb.h"
#include "rnnserve/v1/sessions.pb.h"

namespace rnnserve::cluster {

class PeerClient {
 public:
  // `authorization` ("Bearer <token>", or empty) goes with every call;
  // `timeout` bounds each call, connecting included.
  PeerClient(std::string authorization, absl::Duration timeout)
      : authorization_(std::move(authorization)), timeout_(timeout) {}

  // TakeSession on the replica at `address` (HOST:PORT). The RPC's status
  // otherwise: UNAVAILABLE or DEADLINE_EXCEEDED mean the peer is gone or
  // stopped; NOT_FOUND that it does not hold the session.
  absl::StatusOr<v1::SessionState> TakeSession(const std::string& address,
                                               const v1::TakeSessionRequest& request)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Channels kept: one per peer that is connected or connecting.
  int64_t channels() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // The channel kept for `address`, or a new one. Making one first forgets
  // the channels that failed to connect (and idle ones, once there are
  // kManyChannels): reaching those peers again costs a connection either
  // way, and pod addresses come and go, so a long-lived replica would
  // otherwise keep (and keep reconnecting) one per peer it ever pulled from.
  std::shared_ptr<grpc::Channel> ChannelTo(const std::string& address) ABSL_LOCKS_EXCLUDED(mu_);
  // Forgets `channel` of `address`, a peer found unreachable (UNAVAILABLE),
  // unless a newer channel replaced it.
  void Forget(const std::string& address, const std::shared_ptr<grpc::Channel>& channel)
      ABSL_LOCKS_EXCLUDED(mu_);

  static constexpr size_t kManyChannels = 64;

  const std::string authorization_;
  const absl::Duration timeout_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<grpc::Channel>> channels_ ABSL_GUARDED_BY(mu_);
};

// Whether a peer call's error means the peer itself is unreachable (gone,
// stopped or partitioned) rather than that it answered.
bool PeerUnreachable(const absl::Status& status);

}  // namespace rnnserve::cluster

#endif  // RNNSERVE_SERVER_CLUSTER_PEER_CLIENT_H_
