#include "client/errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace rnnserve::client {
namespace {

// The tag rides as a payload, so a status keeps its code and message as it
// is passed up and the exit code is still known at the top.
constexpr char kOriginUrl[] = "type.rnnserve/client.origin";
constexpr char kOriginRpc[] = "rpc";
constexpr char kOriginUsage[] = "usage";

absl::Status Tagged(absl::StatusCode code, absl::string_view message, const char* origin) {
  absl::Status status(code, message);
  status.SetPayload(kOriginUrl, absl::Cord(origin));
  return status;
}

}  // namespace

std::string ExitCodeHelp() {
  return "Exit codes:\n"
         "  0  success (health: the service is SERVING)\n"
         "  1  the server returned an error (its gRPC code and message are printed), could\n"
         "     not be reached, did not answer within --timeout, or is not SERVING\n"
         "  2  usage error: unknown subcommand or flag, bad or missing argument\n"
         "  3  a local file or input could not be read, parsed or written, or does not fit\n"
         "     the model\n";
}

absl::Status RpcError(absl::string_view call, const grpc::Status& status) {
  return RpcError(call, static_cast<int>(status.error_code()), status.error_message());
}

absl::Status RpcError(absl::string_view call, int code, absl::string_view message) {
  // absl and gRPC share the google.rpc.Code numbers.
  const auto absl_code =
      code > 0 && code <= 16 ? static_cast<absl::StatusCode>(code) : absl::StatusCode::kUnknown;
  return Tagged(absl_code, absl::StrCat(call, ": ", message), kOriginRpc);
}

absl::Status ServerRefused(absl::StatusCode code, absl::string_view message) {
  return Tagged(code, message, kOriginRpc);
}

absl::Status UsageError(absl::string_view message) {
  return Tagged(absl::StatusCode::kInvalidArgument, message, kOriginUsage);
}

ExitCode ExitCodeOf(const absl::Status& status) {
  if (status.ok()) return kExitOk;
  const absl::optional<absl::Cord> origin = status.GetPayload(kOriginUrl);
  if (origin.has_value() && *origin == kOriginRpc) return kExitRpc;
  if (origin.has_value() && *origin == kOriginUsage) return kExitUsage;
  return kExitLocal;
}

std::string CodeName(int code) {
  if (code < 0 || code > 16) return absl::StrCat("CODE_", code);
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

}  // namespace rnnserve::client
