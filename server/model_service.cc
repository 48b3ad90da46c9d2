#include "server/model_service.h"

#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/grpc_status.h"
#include "util/status_macros.h"

namespace rnnserve::server {

namespace pb = ::rnnserve::v1;

namespace {

absl::Status CheckModelRef(const pb::ModelRef& ref) {
  if (ref.name().empty()) {
    return absl::InvalidArgumentError("model.name is empty: expected a served model's name");
  }
  if (ref.version() < 0 || ref.version() > std::numeric_limits<int>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat("model.version is ", ref.version(),
                     ": expected 0 (the newest) or a positive version below 2^31"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ServedModelPtr> FindServedModel(const ServedModels& models,
                                               const pb::ModelRef& ref) {
  RNN_RETURN_IF_ERROR(CheckModelRef(ref));
  return models.Find(ref.name(), static_cast<int>(ref.version()));
}

absl::StatusOr<ServedModelPtr> FindServedModelForSession(const ServedModels& models,
                                                         const pb::ModelRef& ref) {
  RNN_RETURN_IF_ERROR(CheckModelRef(ref));
  return models.FindForSession(ref.name(), static_cast<int>(ref.version()));
}

namespace {

void FillTransform(const model::StepTransform& transform, pb::StepTransform* out) {
  out->mutable_offset()->Assign(transform.offset().begin(), transform.offset().end());
  out->mutable_scale()->Assign(transform.scale().begin(), transform.scale().end());
}

}  // namespace

void FillModelInfo(const ServedModel& model, const std::vector<int>& versions,
                   pb::ModelInfo* info) {
  const model::ModelInfo& loaded = model.loaded.info;
  const model::LayerStack& stack = *model.loaded.stack;
  info->mutable_model()->set_name(model.name);
  info->mutable_model()->set_version(model.version);
  info->clear_versions();
  for (const int version : versions) info->add_versions(version);
  info->set_format(loaded.format);
  info->set_cell(loaded.cell);
  info->set_num_layers(loaded.num_layers);
  info->set_hidden_size(loaded.hidden_size);
  info->set_proj_size(loaded.proj_size);
  info->set_bidirectional(loaded.bidirectional);
  info->set_input_kind(stack.input_kind() == model::InputKind::kTokens
                           ? pb::INPUT_KIND_TOKENS
                           : pb::INPUT_KIND_FLOATS);
  info->set_input_size(stack.input_size());
  info->set_vocabulary_size(stack.vocabulary_size());
  info->set_output_size(stack.output_size());
  info->set_state_size(stack.state_size());
  info->set_streamable(stack.streamable());
  info->set_parameter_count(loaded.parameter_count);
  info->set_fingerprint(loaded.fingerprint);
  info->set_weights(model::WeightPrecisionName(loaded.weights));
  info->set_weight_bytes(loaded.weight_bytes);
  info->clear_input_transform();
  info->clear_output_transform();
  if (stack.input_transform().has_value()) {
    FillTransform(*stack.input_transform(), info->mutable_input_transform());
  }
  if (stack.output_transform().has_value()) {
    FillTransform(*stack.output_transform(), info->mutable_output_transform());
  }
}

grpc::ServerUnaryReactor* ModelServiceImpl::ListModels(grpc::CallbackServerContext* context,
                                                       const pb::ListModelsRequest* /*request*/,
                                                       pb::ListModelsResponse* response) {
  const absl::Status status = RunIfAllowed(token_, *context, [&] {
    for (const ServedModelPtr& model : models_->List()) {  // sorted by name, then version
      FillModelInfo(*model, models_->Versions(model->name), response->add_models());
    }
    return absl::OkStatus();
  });
  return FinishUnary(context, status, "ListModels", metrics_);
}

grpc::ServerUnaryReactor* ModelServiceImpl::DescribeModel(grpc::CallbackServerContext* context,
                                                          const pb::ModelRef* request,
                                                          pb::ModelInfo* response) {
  const absl::Status status = RunIfAllowed(token_, *context, [&] {
    const absl::StatusOr<ServedModelPtr> model = FindServedModel(*models_, *request);
    if (model.ok()) FillModelInfo(**model, models_->Versions((*model)->name), response);
    return model.status();
  });
  return FinishUnary(context, status, "DescribeModel", metrics_);
}

}  // namespace rnnserve::server
