#include "model/importers/fingerprint.h"

#include <openssl/evp.h>

#include <cstdint>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace rnnserve::model {

std::string Fingerprint(absl::Span<const NamedBytes> parts) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                  &EVP_MD_CTX_free);
  CHECK(context != nullptr && EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) == 1);
  for (const NamedBytes& part : parts) {
    // Name and size first: the concatenation of parts must not be ambiguous.
    const std::string header = absl::StrCat(part.name, "\n", part.bytes.size(), "\n");
    CHECK_EQ(EVP_DigestUpdate(context.get(), header.data(), header.size()), 1);
    CHECK_EQ(EVP_DigestUpdate(context.get(), part.bytes.data(), part.bytes.size()), 1);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  CHECK_EQ(EVP_DigestFinal_ex(context.get(), digest, &length), 1);
  return absl::StrCat("sha256:", absl::BytesToHexString(absl::string_view(
                                     reinterpret_cast<const char*>(digest), length)));
}

}  // namespace rnnserve::model
