// How rnnserve-cli fails: every error is an absl::Status tagged with where it
// came from, so one place (main) prints it and picks the exit code. The exit
// codes are part of the interface (scripts, the container HEALTHCHECK and the
// Kubernetes probes read them) and are listed in `rnnserve-cli --help`.
#ifndef RNNSERVE_CLIENT_ERRORS_H_
#define RNNSERVE_CLIENT_ERRORS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpcpp/support/status.h"

namespace rnnserve::client {

enum ExitCode : int {
  kExitOk = 0,
  // The server refused or failed a call (its gRPC code is printed), could not
  // be reached, answered too late, or (health) is not SERVING.
  kExitRpc = 1,
  // A bad subcommand, flag or argument; nothing was sent.
  kExitUsage = 2,
  // A local file or input could not be read, parsed or written, or does not
  // fit the model.
  kExitLocal = 3,
};

// One paragraph for --help.
std::string ExitCodeHelp();

// The status of a failed call `call` ("DescribeModel"): same code, message
// prefixed with the call, tagged as a server-side error (exit code 1).
absl::Status RpcError(absl::string_view call, const grpc::Status& status);
// The same for a stream response's own error {code, message}.
absl::Status RpcError(absl::string_view call, int code, absl::string_view message);
// A server-side outcome that is not a gRPC error (health NOT_SERVING): exit 1.
absl::Status ServerRefused(absl::StatusCode code, absl::string_view message);
// A usage error (exit code 2): INVALID_ARGUMENT with `message`.
absl::Status UsageError(absl::string_view message);

// kExitRpc, kExitUsage or kExitLocal (untagged statuses are local errors);
// kExitOk for OK.
ExitCode ExitCodeOf(const absl::Status& status);

// "UNAVAILABLE" for a google.rpc.Code number, "CODE_42" past the known ones.
std::string CodeName(int code);

}  // namespace rnnserve::client

#endif  // RNNSERVE_CLIENT_ERRORS_H_
