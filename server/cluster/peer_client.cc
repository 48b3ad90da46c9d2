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
  std::shared_ptr<grpc::Channel>& channel = channels_[address];
  if (channel == nullptr) {
    grpc::ChannelArguments arguments;
    // A stopped or vanished peer must cost one timeout, not gRPC's growing
    // reconnect backoff on every later call.
    arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), arguments);
  }
  return channel;
}

absl::StatusOr<v1::SessionState> PeerClient::TakeSession(const std::string& address,
                                                         const v1::TakeSessionRequest& request) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  if (!authorization_.empty()) context.AddMetadata("authorization", authorization_);
  v1::SessionState state;
  const grpc::Status status =
      v1::ClusterService::NewStub(ChannelTo(address))->TakeSession(&context, request, &state);
  if (status.ok()) return state;
  if (context.GetServerTrailingMetadata().count(kSessionEndedTrailer) > 0) {
    return SessionEnded(request.session_id(), address);
  }
  return server::ToAbslStatus(status);
}

bool PeerUnreachable(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
}

}  // namespace rnnserve::cluster
