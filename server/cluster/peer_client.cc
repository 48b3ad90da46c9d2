#include "server/cluster/peer_client.h"

#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "rnnserve/v1/cluster.grpc.pb.h"
#include "server/cluster/session_ended.h"
#include "server/grpc_status.h"

namespace rnnserve::cluster {

std::shared_ptr<grpc::Channel> PeerClient::ChannelTo(const std::string& address) {
  absl::MutexLock lock(&mu_);
  if (const auto it = channels_.find(address); it != channels_.end()) return it->second;
  // Idle channels (no call lately, or a lost connection) cost only memory:
  // forgotten only once they are many, so that pulls from several new peers
  // at once do not evict each other's channels before their first call.
  const bool many = channels_.size() >= kManyChannels;
  absl::erase_if(channels_, [many](const auto& entry) {
    const grpc_connectivity_state state = entry.second->GetState(/*try_to_connect=*/false);
    return state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN ||
           (many && state == GRPC_CHANNEL_IDLE);
  });
  grpc::ChannelArguments arguments;
  // A stopped or vanished peer must cost one timeout, not gRPC's growing
  // reconnect backoff on every later call.
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), arguments);
  channels_.emplace(address, channel);
  return channel;
}

void PeerClient::Forget(const std::string& address, const std::shared_ptr<grpc::Channel>& channel) {
  absl::MutexLock lock(&mu_);
  if (const auto it = channels_.find(address); it != channels_.end() && it->second == channel) {
    channels_.erase(it);
  }
}

int64_t PeerClient::channels() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(channels_.size());
}

absl::StatusOr<v1::SessionState> PeerClient::TakeSession(const std::string& address,
                                                         const v1::TakeSessionRequest& request) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  if (!authorization_.empty()) context.AddMetadata("authorization", authorization_);
  v1::SessionState state;
  const std::shared_ptr<grpc::Channel> channel = ChannelTo(address);
  const grpc::Status status =
      v1::ClusterService::NewStub(channel)->TakeSession(&context, request, &state);
  if (status.ok()) return state;
  if (context.GetServerTrailingMetadata().count(kSessionEndedTrailer) > 0) {
    return SessionEnded(request.session_id(), address);
  }
  absl::Status failed = server::ToAbslStatus(status);
  // Gone, most likely for good (a pod's address): its channel would go on
  // reconnecting every second. (A peer that is only slow, DEADLINE_EXCEEDED,
  // keeps its channel.)
  if (absl::IsUnavailable(failed)) Forget(address, channel);
  return failed;
}

bool PeerUnreachable(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
}

}  // namespace rnnserve::cluster
