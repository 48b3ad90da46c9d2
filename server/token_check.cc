#include "server/token_check.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "util/file.h"
#include "util/status_macros.h"

namespace rnnserve::server {
namespace {

// Equal strings, in time that depends only on their lengths: a token check
// must not tell an attacker how many leading bytes they guessed right.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

absl::StatusOr<TokenCheck> TokenCheck::FromFile(const std::string& path) {
  RNN_ASSIGN_OR_RETURN(const std::string text, util::ReadFileToString(path));
  const absl::string_view token = absl::StripAsciiWhitespace(text);
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("token file ", path, " is empty"));
  }
  return TokenCheck(std::string(token));
}

bool TokenCheck::Accepts(absl::string_view authorization) const {
  return ConstantTimeEquals(authorization, expected_);
}

absl::Status TokenCheck::Check(const grpc::ServerContextBase& context) const {
  const auto& metadata = context.client_metadata();
  const auto authorization = metadata.find("authorization");
  if (authorization == metadata.end()) {
    return absl::UnauthenticatedError(
        "this server wants a bearer token: send metadata \"authorization: Bearer <token>\"");
  }
  const absl::string_view sent(authorization->second.data(), authorization->second.size());
  if (!Accepts(sent)) {
    return absl::UnauthenticatedError(
        "the authorization metadata is not \"Bearer \" followed by this server's token");
  }
  return absl::OkStatus();
}

}  // namespace rnnserve::server
