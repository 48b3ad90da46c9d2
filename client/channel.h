// Connections and per-call settings shared by every subcommand.
#ifndef RNNSERVE_CLIENT_CHANNEL_H_
#define RNNSERVE_CLIENT_CHANNEL_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace rnnserve::client {

// The metadata key a proxy hashes for session affinity (issue 7): every call
// about one session carries it, bench sends it once per stream.
inline constexpr char kSessionHeader[] = "x-session-id";

// An insecure channel to `server` (HOST:PORT). Channels with different
// `index` never share a TCP connection, so bench can spread its streams.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& server, int index = 0);

// Sets the call's deadline `timeout` from now (none when zero or infinite)
// and, when `session_id` is not empty, the x-session-id header.
void PrepareContext(grpc::ClientContext& context, absl::Duration timeout,
                    absl::string_view session_id = "");

// A session id nobody else uses: `prefix` and 16 random hex digits.
std::string RandomSessionId(absl::string_view prefix);

}  // namespace rnnserve::client

#endif  // RNNSERVE_CLIENT_CHANNEL_H_
