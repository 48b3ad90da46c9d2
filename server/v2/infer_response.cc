#include "server/v2/infer_response.h"

#include "absl/strings/str_cat.h"

namespace rnnserve::server::v2 {

inference::ModelInferResponse ToInferResponse(const v1::Outputs& outputs, const v1::ModelRef& model,
                                              std::optional<int64_t> session_steps,
                                              const ResponseForm& form) {
  inference::ModelInferResponse response;
  response.set_model_name(model.name());
  response.set_model_version(absl::StrCat(model.version()));
  response.set_id(form.id);
  if (session_steps.has_value()) {
    (*response.mutable_parameters())["session_steps"].set_int64_param(*session_steps);
  }
  inference::ModelInferResponse::InferOutputTensor& output = *response.add_outputs();
  output.set_name(kOutputName);
  output.set_datatype("FP32");
  if (form.batch_dim) output.add_shape(1);
  for (const int64_t dim : outputs.shape()) output.add_shape(dim);
  const auto& values = outputs.values();
  if (form.raw) {
    // Little-endian, as the host (static_assert in infer_request.cc).
    response.add_raw_output_contents()->assign(reinterpret_cast<const char*>(values.data()),
                                               values.size() * sizeof(float));
  } else {
    output.mutable_contents()->mutable_fp32_contents()->Assign(values.begin(), values.end());
  }
  return response;
}

}  // namespace rnnserve::server::v2
