#include "client/model_info.h"

#include "absl/strings/str_cat.h"
#include "client/channel.h"
#include "client/errors.h"
#include "rnnserve/v1/models.grpc.pb.h"

namespace rnnserve::client {

absl::StatusOr<v1::ModelInfo> DescribeModel(const std::shared_ptr<grpc::Channel>& channel,
                                            const std::string& name, int64_t version,
                                            absl::Duration timeout) {
  if (name.empty()) return UsageError("--model is required");
  v1::ModelRef ref;
  ref.set_name(name);
  ref.set_version(version);
  v1::ModelInfo info;
  grpc::ClientContext context;
  PrepareContext(context, timeout);
  const grpc::Status status =
      v1::ModelService::NewStub(channel)->DescribeModel(&context, ref, &info);
  if (!status.ok()) return RpcError("DescribeModel", status);
  return info;
}

bool TakesTokens(const v1::ModelInfo& info) { return info.input_kind() == v1::INPUT_KIND_TOKENS; }

std::string InputSummary(const v1::ModelInfo& info) {
  return TakesTokens(info) ? absl::StrCat("tokens <", info.vocabulary_size())
                           : absl::StrCat("floats x", info.input_size());
}

}  // namespace rnnserve::client
