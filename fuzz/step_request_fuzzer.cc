// libFuzzer target: request validation. The input is a serialized
// rnnserve.v1.StepRequest, checked as the server checks it
// (server::ValidateSessionId, server::InputOf) against one of a few loaded
// models: the request's model.name picks it, else model.version modulo their
// count. Input that passes is stepped (fuzz/accepted_input.h).
#include <string>
#include <vector>

#include "fuzz/accepted_input.h"
#include "fuzz/fuzz_util.h"
#include "glog/logging.h"
#include "google/protobuf/stubs/logging.h"
#include "model/importers/model_loader.h"
#include "rnnserve/v1/inference.pb.h"
#include "server/session_store.h"
#include "server/step_handler.h"

namespace rnnserve::fuzz {
namespace {

struct NamedModel {
  std::string name;
  std::shared_ptr<const model::LayerStack> stack;
};

// Floats and tokens; GRU, LSTM (projection, peepholes), Jordan; native and
// ONNX; streamable and whole-sequence-only.
std::vector<NamedModel> LoadModels() {
  const std::vector<std::pair<std::string, std::string>> folders = {
      {"forecast", "models/forecast/1"},
      {"charlm", "models/charlm/1"},
      {"lstm_proj", "tests/testdata/model/lstm_proj"},
      {"lstm_peephole_clip", "tests/testdata/model/lstm_peephole_clip"},
      {"jordan_tanh", "tests/testdata/model/jordan_tanh"},
      {"gru_bidir", "tests/testdata/model/gru_bidir"},
      {"op_rnn_tanh_yh", "tests/testdata/onnx/op_rnn_tanh_yh"},
      {"torch_charlm", "tests/testdata/onnx/torch_charlm"},
  };
  std::vector<NamedModel> models;
  for (const auto& [name, folder] : folders) {
    absl::StatusOr<model::LoadedModel> loaded =
        model::LoadModel(std::string(RNNSERVE_SOURCE_DIR) + "/" + folder);
    CHECK(loaded.ok()) << loaded.status();
    models.push_back({name, loaded->stack});
  }
  return models;
}

const std::vector<NamedModel>& Models() {
  static const auto* models = new std::vector<NamedModel>(LoadModels());
  return *models;
}

const model::LayerStack& PickModel(const v1::StepRequest& request) {
  for (const NamedModel& m : Models()) {
    if (m.name == request.model().name()) return *m.stack;
  }
  const uint64_t index = static_cast<uint64_t>(request.model().version()) % Models().size();
  return *Models()[index].stack;
}

void CheckRequest(const uint8_t* data, size_t size) {
  v1::StepRequest request;
  // gRPC hands the server only what parses; the rest never reaches us.
  if (!request.ParseFromArray(data, static_cast<int>(size))) return;
  const absl::Status id = server::ValidateSessionId(request.session_id());
  if (!id.ok()) CheckRefused(id);
  const model::LayerStack& stack = PickModel(request);
  absl::StatusOr<server::StepInputData> input = server::InputOf(request, stack);
  if (!input.ok()) {
    CheckRefused(input.status());
    return;
  }
  StepAccepted(stack, *input);
}

}  // namespace
}  // namespace rnnserve::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Most inputs hold a string that is not UTF-8, and protobuf logs each one
  // it refuses: that logging was most of the run time and the log.
  google::protobuf::SetLogHandler(nullptr);
  rnnserve::fuzz::Models();  // Loading is not what is fuzzed here.
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rnnserve::fuzz::CheckRequest(data, size);
  return 0;
}
