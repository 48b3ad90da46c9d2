// Loaded as "libssl.so" for civetweb's HTTPS (server/v2/https_setup.h):
// libssl.so.3 itself, plus the one OpenSSL 1.1 function civetweb 1.15
// (Debian's, built for the 1.1 API) looks up and OpenSSL 3 no longer
// exports. Linked to libssl.so.3, so every other name civetweb asks this
// library for is found there.
#include <openssl/ssl.h>

// OpenSSL 3 keeps the old name only as a macro for SSL_get1_peer_certificate.
#undef SSL_get_peer_certificate

// The same contract: a reference the caller frees (civetweb calls X509_free).
extern "C" X509* SSL_get_peer_certificate(const SSL* ssl) { return SSL_get1_peer_certificate(ssl); }
