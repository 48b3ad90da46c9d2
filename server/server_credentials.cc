#include "server/server_credentials.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "util/file.h"
#include "util/status_macros.h"

namespace rnnserve::server {
namespace {

absl::StatusOr<std::string> ReadNonEmpty(const std::string& path, const std::string& what) {
  RNN_ASSIGN_OR_RETURN(std::string text, util::ReadFileToString(path));
  if (absl::StripAsciiWhitespace(text).empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " file ", path, " is empty"));
  }
  return text;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const SecurityOptions& options) {
  const bool tls = !options.tls_cert.empty() || !options.tls_key.empty();
  if (tls && (options.tls_cert.empty() || options.tls_key.empty())) {
    return absl::InvalidArgumentError("TLS wants both --tls_cert and --tls_key");
  }
  if (!tls && !options.tls_client_ca.empty()) {
    return absl::InvalidArgumentError(
        "--tls_client_ca (mutual TLS) wants TLS: set --tls_cert and --tls_key too");
  }
  std::shared_ptr<grpc::ServerCredentials> credentials;
  if (tls) {
    grpc::SslServerCredentialsOptions ssl;
    grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
    RNN_ASSIGN_OR_RETURN(pair.private_key, ReadNonEmpty(options.tls_key, "--tls_key"));
    RNN_ASSIGN_OR_RETURN(pair.cert_chain, ReadNonEmpty(options.tls_cert, "--tls_cert"));
    ssl.pem_key_cert_pairs.push_back(std::move(pair));
    if (!options.tls_client_ca.empty()) {
      RNN_ASSIGN_OR_RETURN(ssl.pem_root_certs,
                           ReadNonEmpty(options.tls_client_ca, "--tls_client_ca"));
      ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
    }
    credentials = grpc::SslServerCredentials(ssl);
  } else {
    credentials = grpc::InsecureServerCredentials();
  }
  return credentials;
}

}  // namespace rnnserve::server
