// Loaded as "libcrypto.so" for civetweb's HTTPS (server/v2/https_setup.h):
// nothing but a dependency on libcrypto.so.3, so that civetweb, which opens
// the unversioned name, finds OpenSSL 3's libcrypto without the -dev
// package's symlink (absent from the runtime image).
#include <openssl/crypto.h>

// Keeps the dependency: the link would drop a library nothing here uses.
extern "C" const char* rnnserve_libcrypto_compat_version() {
  return OpenSSL_version(OPENSSL_VERSION);
}
