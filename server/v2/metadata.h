// The Open Inference Protocol's server and model metadata and readiness,
// from the served models (README "Using Triton / KServe clients"): a model
// has input `input` FP32 [-1, input_size] (INT64 [-1] token ids for an
// embedding model) and output `output` FP32 [-1, output_size]; the server
// names the extensions `sequence` and `sequence(string_id)`. A model's
// parameters give its weight precision and packed bytes (`weights`,
// `weight_bytes`). Shared by the
// gRPC service and the REST front end to come. Stateless; thread-safe.
#ifndef RNNSERVE_SERVER_V2_METADATA_H_
#define RNNSERVE_SERVER_V2_METADATA_H_

#include <string>

#include "absl/status/statusor.h"
#include "inference/grpc_service.pb.h"
#include "server/served_models.h"

namespace rnnserve::server::v2 {

inference::ServerMetadataResponse ServerMetadata();

// NOT_FOUND for a model (or version) not served; INVALID_ARGUMENT for a
// version that is not a number (infer_request.h: ParseModelVersion).
absl::StatusOr<inference::ModelMetadataResponse> ModelMetadata(const ServedModels& models,
                                                               const std::string& name,
                                                               const std::string& version);

// Whether the model (at `version`, or its newest) is served: false, not an
// error, for one that is not. INVALID_ARGUMENT as ModelMetadata.
absl::StatusOr<bool> ModelReady(const ServedModels& models, const std::string& name,
                                const std::string& version);

}  // namespace rnnserve::server::v2

#endif  // RNNSERVE_SERVER_V2_METADATA_H_
