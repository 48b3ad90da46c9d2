// HTTPS for the REST listener (http_server.h) with Debian's civetweb 1.15 on
// OpenSSL 3, from the same certificate, key and client CA files as gRPC's
// TLS (server_credentials.h).
//
// Why a setup of its own: civetweb 1.15 loads OpenSSL at run time by the
// names "libssl.so" and "libcrypto.so", built for the OpenSSL 1.1 API. Of
// the 1.1 functions it requires, OpenSSL 3's libssl.so.3 no longer exports
// one, SSL_get_peer_certificate (now a macro), so civetweb refuses HTTPS
// ("load_tls_dll: libssl.so: cannot find SSL_get_peer_certificate"), and
// after a failed mg_init_library(MG_FEATURES_TLS) it even starts and jumps
// to address 0 at the first handshake (a NULL function pointer). The
// runtime image also lacks the unversioned names (they come with
// libssl-dev). LoadOpenSslForCivetweb loads two small libraries built here
// (openssl_compat/) whose sonames are exactly "libssl.so" and
// "libcrypto.so": the dynamic loader then hands them to civetweb's dlopen by
// that soname, and they resolve every name to libssl.so.3 / libcrypto.so.3,
// SSL_get_peer_certificate to SSL_get1_peer_certificate (the same contract).
// ConfigureTlsContext then sets up the SSL_CTX civetweb made, through its
// init_ssl callback.
#ifndef RNNSERVE_SERVER_V2_HTTPS_SETUP_H_
#define RNNSERVE_SERVER_V2_HTTPS_SETUP_H_

#include <string>

#include "absl/status/status.h"

namespace rnnserve::server::v2 {

struct HttpsFiles {
  std::string cert;       // PEM certificate chain
  std::string key;        // PEM private key of `cert`
  std::string client_ca;  // PEM CA clients must present a certificate of; empty: none asked
};

// Loads lib/rnnserve/librnnserve-civetweb-{ssl,crypto}.so from beside the
// binary's folder (build/lib/rnnserve for build/bin, /usr/local/lib/rnnserve
// in the image). Once per process; later calls return the first outcome.
// FAILED_PRECONDITION naming the file that cannot be loaded.
absl::Status LoadOpenSslForCivetweb();

// Configures `ssl_ctx` (an SSL_CTX*): TLS 1.2 or newer, `files.cert` and its
// key (checked to match), and with `files.client_ca` mutual TLS (a client
// certificate that CA signed is required). INVALID_ARGUMENT with OpenSSL's
// reason for a file it refuses.
absl::Status ConfigureTlsContext(void* ssl_ctx, const HttpsFiles& files);

}  // namespace rnnserve::server::v2

#endif  // RNNSERVE_SERVER_V2_HTTPS_SETUP_H_
