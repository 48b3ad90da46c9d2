// `health`: the standard grpc.health.v1 check, for the container's
// HEALTHCHECK and the Kubernetes probes: exit 0 when SERVING, 1 otherwise
// (Docker reserves exit code 2, so every unhealthy outcome is 1).
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "client/channel.h"
#include "client/command.h"
#include "client/common_flags.h"
#include "client/errors.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "util/status_macros.h"

ABSL_FLAG(std::string, service, "",
          "the service to check: \"\" for the whole server, or a model name");

namespace rnnserve::client {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

absl::Status RunHealth(const CommandLine& line) {
  if (!line.positional.empty()) return UsageError("health takes no arguments; use --service");
  RNN_ASSIGN_OR_RETURN(const std::shared_ptr<grpc::Channel> channel, ChannelFromFlags());
  HealthCheckRequest request;
  request.set_service(absl::GetFlag(FLAGS_service));
  HealthCheckResponse response;
  grpc::ClientContext context;
  PrepareContext(context, absl::GetFlag(FLAGS_timeout));
  const grpc::Status status =
      grpc::health::v1::Health::NewStub(channel)->Check(&context, request, &response);
  if (!status.ok()) {
    // gRPC's health service answers NOT_FOUND for a service it does not know.
    return RpcError(status.error_code() == grpc::StatusCode::NOT_FOUND
                        ? absl::StrCat("Health.Check: unknown service \"", request.service(), "\"")
                        : "Health.Check",
                    status);
  }
  const std::string name = HealthCheckResponse::ServingStatus_Name(response.status());
  std::cout << name << "\n";
  if (response.status() == HealthCheckResponse::SERVING) return absl::OkStatus();
  return ServerRefused(absl::StatusCode::kUnavailable,
                       absl::StrCat("service \"", request.service(), "\" is ", name));
}

}  // namespace

const Command& HealthCommand() {
  static const Command* const command = new Command{
      .name = "health",
      .synopsis = "health [--service NAME]",
      .summary = "Check grpc.health.v1: exit 0 when SERVING, 1 otherwise.",
      .details =
          "Prints the serving status (SERVING, NOT_SERVING, ...). Exit code 1 when the\n"
          "service is not SERVING, unknown to the server, or the server cannot be reached\n"
          "within --timeout; so it fits a container HEALTHCHECK and Kubernetes exec probes.\n",
      .flags = {"service"},
      .run = RunHealth,
  };
  return *command;
}

}  // namespace rnnserve::client
