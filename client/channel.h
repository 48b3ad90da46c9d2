// Connections and per-call settings shared by every subcommand: where the
// server is, TLS, the bearer token, deadlines and the session header.
#ifndef RNNSERVE_CLIENT_CHANNEL_H_
#define RNNSERVE_CLIENT_CHANNEL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace rnnserve::client {

// The metadata key a proxy hashes for session affinity (issue 7): every call
// about one session carries it, bench sends it once per stream.
inline constexpr char kSessionHeader[] = "x-session-id";

// How to reach the server. A plain value; copy freely.
struct Connection {
  std::string server;  // HOST:PORT
  bool tls = false;
  std::string root_certs;   // PEM the server's certificate must chain to; empty: system roots
  std::string client_cert;  // PEM chain and key for mutual TLS; both or neither
  std::string client_key;
  std::string tls_server_name;  // the name to verify instead of HOST
  std::string token;            // sent as "authorization: Bearer <token>" on every call
};

// The connection flags every subcommand takes. Their names, for the parser
// and --help.
const std::vector<std::string>& ConnectionFlagNames();

// From --server, --tls, --tls_ca, --tls_cert, --tls_key, --tls_server_name
// and --token_file (any TLS file or name implies --tls). UsageError for an
// incomplete setting (a certificate without its key), NOT_FOUND or
// INVALID_ARGUMENT (exit code 3) for a file that cannot be read or is empty.
absl::StatusOr<Connection> ConnectionFromFlags();

// A channel to `connection`. Channels with different `index` never share a
// TCP connection, so bench can spread its streams.
std::shared_ptr<grpc::Channel> MakeChannel(const Connection& connection, int index = 0);

// MakeChannel(ConnectionFromFlags()).
absl::StatusOr<std::shared_ptr<grpc::Channel>> ChannelFromFlags();

// Sets the call's deadline `timeout` from now (none when zero or infinite)
// and, when `session_id` is not empty, the x-session-id header.
void PrepareContext(grpc::ClientContext& context, absl::Duration timeout,
                    absl::string_view session_id = "");

// A session id nobody else uses: `prefix` and 16 random hex digits.
std::string RandomSessionId(absl::string_view prefix);

}  // namespace rnnserve::client

#endif  // RNNSERVE_CLIENT_CHANNEL_H_
