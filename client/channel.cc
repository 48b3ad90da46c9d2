#include "client/channel.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace rnnserve::client {

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& server, int index) {
  grpc::ChannelArguments args;
  // Requests and responses of long chunks exceed gRPC's 4 MiB default; the
  // server sets its own limit.
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  // gRPC shares subchannels (TCP connections) between channels with equal
  // arguments; a local pool plus a distinct argument keeps them apart.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("rnnserve.channel_index", index);
  return grpc::CreateCustomChannel(server, grpc::InsecureChannelCredentials(), args);
}

void PrepareContext(grpc::ClientContext& context, absl::Duration timeout,
                    absl::string_view session_id) {
  if (timeout > absl::ZeroDuration() && timeout != absl::InfiniteDuration()) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
  if (!session_id.empty()) context.AddMetadata(kSessionHeader, std::string(session_id));
}

std::string RandomSessionId(absl::string_view prefix) {
  std::random_device device;
  const uint64_t bits = (static_cast<uint64_t>(device()) << 32) ^ device();
  return absl::StrCat(prefix, absl::Hex(bits, absl::kZeroPad16));
}

}  // namespace rnnserve::client
