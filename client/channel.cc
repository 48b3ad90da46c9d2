#include "client/channel.h"

#include <random>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "client/common_flags.h"
#include "client/errors.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "grpcpp/support/client_interceptor.h"
#include "util/file.h"
#include "util/status_macros.h"

namespace rnnserve::client {
namespace {

absl::StatusOr<std::string> ReadWholeFile(const std::string& flag, const std::string& path) {
  absl::StatusOr<std::string> contents = util::ReadFileToString(path);
  if (!contents.ok()) {
    return absl::Status(contents.status().code(),
                        absl::StrCat("--", flag, ": ", contents.status().message()));
  }
  if (contents->empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", path, " is empty"));
  }
  return contents;
}

// Adds the bearer token to every call of a channel: bench's streams, the
// unary calls, health. An interceptor, not call credentials, because gRPC
// sends call credentials only over TLS, and the server also takes tokens in
// plaintext behind a TLS-terminating proxy.
class TokenInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit TokenInterceptor(const std::string* header) : header_(header) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace("authorization", *header_);
    }
    methods->Proceed();
  }

 private:
  const std::string* const header_;  // the factory's; it outlives the channel's calls
};

class TokenInterceptorFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit TokenInterceptorFactory(const std::string& token) : header_("Bearer " + token) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* /*info*/) override {
    return new TokenInterceptor(&header_);
  }

 private:
  const std::string header_;
};

}  // namespace

const std::vector<std::string>& ConnectionFlagNames() {
  static const auto* const names = new std::vector<std::string>{
      "server", "timeout", "tls", "tls_ca", "tls_cert", "tls_key", "tls_server_name", "token_file"};
  return *names;
}

absl::StatusOr<Connection> ConnectionFromFlags() {
  Connection c;
  c.server = absl::GetFlag(FLAGS_server);
  if (c.server.empty()) return UsageError("--server is empty: want HOST:PORT");
  const std::string ca = absl::GetFlag(FLAGS_tls_ca);
  const std::string cert = absl::GetFlag(FLAGS_tls_cert);
  const std::string key = absl::GetFlag(FLAGS_tls_key);
  c.tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  c.tls = absl::GetFlag(FLAGS_tls) || !ca.empty() || !cert.empty() || !key.empty() ||
          !c.tls_server_name.empty();
  if (cert.empty() != key.empty()) {
    return UsageError("--tls_cert and --tls_key go together (a client certificate and its key)");
  }
  if (!ca.empty()) {
    RNN_ASSIGN_OR_RETURN(c.root_certs, ReadWholeFile("tls_ca", ca));
  }
  if (!cert.empty()) {
    RNN_ASSIGN_OR_RETURN(c.client_cert, ReadWholeFile("tls_cert", cert));
    RNN_ASSIGN_OR_RETURN(c.client_key, ReadWholeFile("tls_key", key));
  }
  const std::string token_file = absl::GetFlag(FLAGS_token_file);
  if (!token_file.empty()) {
    RNN_ASSIGN_OR_RETURN(const std::string text, ReadWholeFile("token_file", token_file));
    // As the server reads it: surrounding whitespace (a final newline) is not part of it.
    c.token = std::string(absl::StripAsciiWhitespace(text));
    if (c.token.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--token_file: ", token_file, " holds only whitespace"));
    }
  }
  return c;
}

std::shared_ptr<grpc::Channel> MakeChannel(const Connection& connection, int index) {
  grpc::ChannelArguments args;
  // Requests and responses of long chunks exceed gRPC's 4 MiB default; the
  // server sets its own limit.
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  // gRPC shares subchannels (TCP connections) between channels with equal
  // arguments; a local pool plus a distinct argument keeps them apart.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("rnnserve.channel_index", index);
  // After a replica restarts, reconnect within a second (gRPC's default
  // backoff grows to 2 minutes), so the client's own bounded retries after
  // UNAVAILABLE (--max_reconnects) find it back.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // No gRPC retries: the session protocol resends steps itself (with
  // expected_session_steps, so a resend is never applied twice). gRPC 1.51's
  // transparent retry also loses step answers: when a proxy's GOAWAY (nginx
  // reloading) refuses a stream whose request is on its way, the retry sends
  // the request again on a new connection, and the server applies it, but
  // the Write that raced the GOAWAY has already returned false (chttp2 marks
  // a send on the closed stream failed, the retry filter passes that up). A
  // client then takes the stream for broken and never reads the answer of a
  // step that was applied. Without retries the refused stream just fails
  // UNAVAILABLE and the step is sent again on a new one.
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (connection.tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = connection.root_certs;
    ssl.pem_cert_chain = connection.client_cert;
    ssl.pem_private_key = connection.client_key;
    credentials = grpc::SslCredentials(ssl);
    if (!connection.tls_server_name.empty()) {
      args.SetSslTargetNameOverride(connection.tls_server_name);
    }
  }
  if (connection.token.empty()) {
    return grpc::CreateCustomChannel(connection.server, credentials, args);
  }
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<TokenInterceptorFactory>(connection.token));
  return grpc::experimental::CreateCustomChannelWithInterceptors(connection.server, credentials,
                                                                 args, std::move(factories));
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> ChannelFromFlags() {
  RNN_ASSIGN_OR_RETURN(const Connection connection, ConnectionFromFlags());
  return MakeChannel(connection);
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
