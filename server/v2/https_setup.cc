#include "server/v2/https_setup.h"

#include <dlfcn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace rnnserve::server::v2 {
namespace {

// OpenSSL's reasons for the last failures, oldest first.
std::string OpenSslErrors() {
  std::string reasons;
  while (const unsigned long code = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(code, text, sizeof(text));
    absl::StrAppend(&reasons, reasons.empty() ? "" : "; ", text);
  }
  return reasons.empty() ? "no reason given" : reasons;
}

absl::Status Refused(const std::string& what, const std::string& file) {
  return absl::InvalidArgumentError(
      absl::StrCat("HTTPS: ", what, " ", file, ": ", OpenSslErrors()));
}

absl::Status LoadOnce() {
  std::error_code error;
  const std::filesystem::path binary = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("HTTPS: cannot find this binary's folder: ", error.message()));
  }
  const std::filesystem::path folder = binary.parent_path().parent_path() / "lib" / "rnnserve";
  // libcrypto's first: civetweb opens both, and libssl's needs it anyway.
  for (const char* name : {"librnnserve-civetweb-crypto.so", "librnnserve-civetweb-ssl.so"}) {
    const std::string path = (folder / name).string();
    // Never closed: civetweb keeps using what it found through them.
    if (dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL) == nullptr) {
      const char* reason = dlerror();
      return absl::FailedPreconditionError(
          absl::StrCat("HTTPS needs ", path,
                       " (built with rnnserve; civetweb's OpenSSL 3 compatibility, "
                       "server/v2/https_setup.h): ",
                       reason != nullptr ? reason : "cannot load it"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status LoadOpenSslForCivetweb() {
  // Once: the loader's state is the process's anyway.
  static const absl::Status* const loaded = new absl::Status(LoadOnce());
  return *loaded;
}

absl::Status ConfigureTlsContext(void* ssl_ctx, const HttpsFiles& files) {
  SSL_CTX* const ctx = static_cast<SSL_CTX*>(ssl_ctx);
  ERR_clear_error();
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    return Refused("cannot require TLS 1.2 for", "the listener");
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, files.cert.c_str()) != 1) {
    return Refused("cannot use the certificate chain", files.cert);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, files.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Refused("cannot use the private key", files.key);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return Refused(
        absl::StrCat("the private key does not match the certificate ", files.cert, ", key"),
        files.key);
  }
  if (!files.client_ca.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, files.client_ca.c_str(), nullptr) != 1) {
      return Refused("cannot use the client CA", files.client_ca);
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return absl::OkStatus();
}

}  // namespace rnnserve::server::v2
