// ModelService (DESIGN.md section 4): what the server serves, over gRPC's
// callback API. Every reaction finishes at once; nothing blocks.
#ifndef RNNSERVE_SERVER_MODEL_SERVICE_H_
#define RNNSERVE_SERVER_MODEL_SERVICE_H_

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "rnnserve/v1/models.grpc.pb.h"
#include "rnnserve/v1/types.pb.h"
#include "server/metrics.h"
#include "server/served_models.h"
#include "server/token_check.h"

namespace rnnserve::server {

// The served model `ref` names (version 0: the newest). INVALID_ARGUMENT for
// an empty name or a version outside [0, 2^31); NOT_FOUND from
// ServedModels::Find, which says what is served.
absl::StatusOr<ServedModelPtr> FindServedModel(const ServedModels& models,
                                               const rnnserve::v1::ModelRef& ref);
// The same for a session bound to `ref` already (imported), which may also
// be on a retired version not freed yet (ServedModels::FindForSession).
absl::StatusOr<ServedModelPtr> FindServedModelForSession(const ServedModels& models,
                                                         const rnnserve::v1::ModelRef& ref);

// Every field of `info` for `model`; `versions` are all served versions of
// its name.
void FillModelInfo(const ServedModel& model, const std::vector<int>& versions,
                   rnnserve::v1::ModelInfo* info);

class ModelServiceImpl final : public rnnserve::v1::ModelService::CallbackService {
 public:
  // None owned; all outlive the service. `metrics` may be null (not
  // counted), `token` null (no token needed).
  explicit ModelServiceImpl(const ServedModels* models, ServerMetrics* metrics = nullptr,
                            const TokenCheck* token = nullptr)
      : models_(models), metrics_(metrics), token_(token) {}

  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const rnnserve::v1::ListModelsRequest* request,
                                       rnnserve::v1::ListModelsResponse* response) override;
  grpc::ServerUnaryReactor* DescribeModel(grpc::CallbackServerContext* context,
                                          const rnnserve::v1::ModelRef* request,
                                          rnnserve::v1::ModelInfo* response) override;

 private:
  const ServedModels* const models_;
  ServerMetrics* const metrics_;
  const TokenCheck* const token_;
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_MODEL_SERVICE_H_
