// Who may connect: TLS with the server's certificate, optionally mutual TLS
// (clients must present a certificate the given CA signed), and the bearer
// token file that server/token_check.h checks on every call (issue 8,
// "Security"). Health stays open: probes (kubelet, the container's
// HEALTHCHECK) carry no token, and it reveals nothing but "serving".
#ifndef RNNSERVE_SERVER_SERVER_CREDENTIALS_H_
#define RNNSERVE_SERVER_SERVER_CREDENTIALS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"

namespace rnnserve::server {

struct SecurityOptions {
  std::string tls_cert;       // PEM certificate chain file; with tls_key enables TLS
  std::string tls_key;        // PEM private key file
  std::string tls_client_ca;  // PEM CA file: clients must present a certificate it signed
  std::string token_file;     // a file holding the bearer token (surrounding whitespace ignored)
};

// The credentials to listen with (the token is not part of them).
// INVALID_ARGUMENT for an incomplete set (a key without a certificate, a
// client CA without TLS) or an empty file; NOT_FOUND for a missing one.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const SecurityOptions& options);

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_SERVER_CREDENTIALS_H_
