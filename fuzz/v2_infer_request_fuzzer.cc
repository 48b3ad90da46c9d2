// libFuzzer target: the Open Inference Protocol request mapping. The input is
// a serialized inference.ModelInferRequest, mapped as the server maps it
// (server/v2/infer_request.h: ToNativeRequest) against a repository of a few
// served models (floats, tokens, whole-sequence only), then checked as a
// native request (server::InputOf). A refusal must be INVALID_ARGUMENT (or
// NOT_FOUND for a model not served); what passes is stepped
// (fuzz/accepted_input.h), and its answer mapped back (ToInferResponse).
#include <unistd.h>

#include <filesystem>
#include <string>
#include <variant>
#include <vector>

#include "fuzz/accepted_input.h"
#include "fuzz/fuzz_util.h"
#include "glog/logging.h"
#include "google/protobuf/stubs/logging.h"
#include "inference/grpc_service.pb.h"
#include "server/served_models.h"
#include "server/step_handler.h"
#include "server/v2/infer_request.h"
#include "server/v2/infer_response.h"

namespace rnnserve::fuzz {
namespace {

// A repository <temp>/v2_infer_request_fuzzer_<pid>/<name>/1 of copies of
// the fixtures, served (and the copies removed once loaded).
const server::ServedModels& Models() {
  static const server::ServedModels* models = [] {
    const std::vector<std::pair<std::string, std::string>> folders = {
        {"forecast", "models/forecast/1"},
        {"charlm", "models/charlm/1"},
        {"gru_bidir", "tests/testdata/model/gru_bidir"},
        {"op_rnn_tanh_yh", "tests/testdata/onnx/op_rnn_tanh_yh"},
    };
    const std::filesystem::path root = std::filesystem::temp_directory_path() /
                                       ("v2_infer_request_fuzzer_" + std::to_string(getpid()));
    std::filesystem::remove_all(root);
    for (const auto& [name, folder] : folders) {
      const std::filesystem::path version = root / name / "1";
      std::filesystem::create_directories(version);
      std::filesystem::copy(std::string(RNNSERVE_SOURCE_DIR) + "/" + folder, version,
                            std::filesystem::copy_options::recursive);
    }
    absl::StatusOr<std::unique_ptr<server::ServedModels>> loaded =
        server::ServedModels::Load(root.string(), 4);
    CHECK(loaded.ok()) << loaded.status();
    CHECK_EQ((*loaded)->List().size(), folders.size());
    std::filesystem::remove_all(root);  // Loaded: the copies are read no more.
    return loaded->release();
  }();
  return *models;
}

template <typename Native>
void CheckNative(const Native& native, const server::v2::ResponseForm& form) {
  absl::StatusOr<const server::ServedModel*> model =
      Models().Find(native.model().name(), static_cast<int>(native.model().version()));
  CHECK(model.ok()) << "mapped to a model not served: " << model.status();
  const model::LayerStack& stack = *(*model)->loaded.stack;
  absl::StatusOr<server::StepInputData> input = server::InputOf(native, stack);
  if (!input.ok()) {
    CheckRefused(input.status());
    return;
  }
  StepAccepted(stack, *input);
  // The answer's mapping, on outputs of the shape the step gives.
  v1::Outputs outputs;
  outputs.add_shape(input->steps);
  outputs.add_shape(stack.output_size());
  outputs.mutable_values()->Resize(static_cast<int>(input->steps * stack.output_size()), 0.5f);
  const inference::ModelInferResponse response =
      server::v2::ToInferResponse(outputs, native.model(), input->steps, form);
  CHECK_EQ(response.outputs_size(), 1);
}

void CheckRequest(const uint8_t* data, size_t size) {
  inference::ModelInferRequest request;
  // gRPC hands the server only what parses; the rest never reaches us.
  if (!request.ParseFromArray(data, static_cast<int>(size))) return;
  absl::StatusOr<server::v2::NativeRequest> native = server::v2::ToNativeRequest(request, Models());
  if (!native.ok()) {
    if (!absl::IsNotFound(native.status())) CheckRefused(native.status());
    return;
  }
  if (const auto* step = std::get_if<v1::StepRequest>(&native->call)) {
    CHECK(!step->session_id().empty());
    CheckNative(*step, native->form);
  } else {
    CheckNative(std::get<v1::SequenceRequest>(native->call), native->form);
  }
}

}  // namespace
}  // namespace rnnserve::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);  // As step_request_fuzzer: not UTF-8 is common.
  rnnserve::fuzz::Models();                  // Loading is not what is fuzzed here.
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rnnserve::fuzz::CheckRequest(data, size);
  return 0;
}
