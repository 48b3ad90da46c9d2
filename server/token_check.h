// The bearer-token check every rnnserve RPC runs first (issue 8, "Security"):
// with a token configured, a call must carry `authorization: Bearer <token>`
// or it gets UNAUTHENTICATED before anything else happens. It lives in our
// handlers rather than in gRPC's AuthMetadataProcessor because gRPC 1.51
// supports that processor only on TLS credentials, and the token must also
// guard plaintext servers behind a TLS-terminating proxy. Health (gRPC's own
// service) stays open for probes. Immutable; thread-safe.
#ifndef RNNSERVE_SERVER_TOKEN_CHECK_H_
#define RNNSERVE_SERVER_TOKEN_CHECK_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/server_context.h"

namespace rnnserve::server {

class TokenCheck {
 public:
  // The token in `path` (surrounding whitespace ignored). NOT_FOUND for a
  // missing file, INVALID_ARGUMENT for an empty one.
  static absl::StatusOr<TokenCheck> FromFile(const std::string& path);
  explicit TokenCheck(std::string token) : expected_("Bearer " + std::move(token)) {}

  // OK when `context` carries the token; UNAUTHENTICATED otherwise. The
  // comparison takes the same time whichever byte differs.
  absl::Status Check(const grpc::ServerContextBase& context) const;
  // Whether an `authorization` value (a gRPC metadata value or an HTTP
  // header) is "Bearer <token>", in the same time whichever byte differs.
  bool Accepts(absl::string_view authorization) const;
  // The `authorization` value calls carry ("Bearer <token>"); the session
  // handoff sends it to the replicas of the same fleet.
  const std::string& authorization() const { return expected_; }

 private:
  std::string expected_;
};

// `check` may be null (no token configured): then every call is allowed.
inline absl::Status Allowed(const TokenCheck* check, const grpc::ServerContextBase& context) {
  return check == nullptr ? absl::OkStatus() : check->Check(context);
}

// Runs `handler` (returning absl::Status) only if the call is allowed; its
// status, or the refusal.
template <typename Handler>
absl::Status RunIfAllowed(const TokenCheck* check, const grpc::ServerContextBase& context,
                          Handler&& handler) {
  absl::Status allowed = Allowed(check, context);
  if (!allowed.ok()) return allowed;
  return handler();
}

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_TOKEN_CHECK_H_
