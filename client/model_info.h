// Looking up what a model takes and returns: every subcommand that sends
// steps asks the server first, so a bad input is refused locally with a
// clear message and bench knows the sizes of its random inputs.
#ifndef RNNSERVE_CLIENT_MODEL_INFO_H_
#define RNNSERVE_CLIENT_MODEL_INFO_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "rnnserve/v1/models.pb.h"

namespace rnnserve::client {

// ModelService.DescribeModel; RpcError (NOT_FOUND names the served models)
// on failure.
absl::StatusOr<v1::ModelInfo> DescribeModel(const std::shared_ptr<grpc::Channel>& channel,
                                            const std::string& name, int64_t version,
                                            absl::Duration timeout);

bool TakesTokens(const v1::ModelInfo& info);

// "floats x1", "tokens <98": what one step of the model is.
std::string InputSummary(const v1::ModelInfo& info);

}  // namespace rnnserve::client

#endif  // RNNSERVE_CLIENT_MODEL_INFO_H_
