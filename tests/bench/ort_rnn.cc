#include "tests/bench/ort_rnn.h"

#include <cstdlib>
#include <filesystem>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "tests/bench/ort_api.h"

namespace rnnserve::bench {
namespace {

const OrtApi& Api() {
  static const OrtApi* api = OrtGetApiBase()->GetApi(kOrtApiVersion);
  CHECK(api != nullptr) << "ONNX Runtime has no C API version " << kOrtApiVersion;
  return *api;
}

void Check(OrtStatus* status, const char* what) {
  if (status == nullptr) return;
  const std::string message = Api().GetErrorMessage(status);
  Api().ReleaseStatus(status);
  LOG(FATAL) << "ONNX Runtime " << what << ": " << message;
}

// The model file of a shape, written by ort_model.py the first time.
std::string ModelPath(OrtCell cell, int input, int hidden, int layers) {
  const char* name = cell == OrtCell::kLstm ? "lstm" : "gru";
  const std::filesystem::path dir = RNNSERVE_BENCH_ORT_MODEL_DIR;
  std::filesystem::create_directories(dir);
  const std::string path =
      (dir / absl::StrCat(name, "_", input, "x", hidden, "x", layers, ".onnx")).string();
  if (!std::filesystem::exists(path)) {
    const std::string command =
        absl::StrCat(RNNSERVE_BENCH_PYTHON, " ", RNNSERVE_BENCH_ORT_MODEL_SCRIPT, " ", name, " ",
                     input, " ", hidden, " ", layers, " ", path);
    CHECK_EQ(std::system(command.c_str()), 0) << command;
  }
  return path;
}

// A float tensor over a buffer the Impl owns.
struct Tensor {
  std::vector<float> data;
  OrtValue* value = nullptr;
};

}  // namespace

struct OrtRnn::Impl {
  OrtEnv* env = nullptr;
  OrtSessionOptions* options = nullptr;
  OrtSession* session = nullptr;
  OrtMemoryInfo* memory = nullptr;
  Tensor x, y;
  // The states ping-pong: Run() reads set `parity` and writes the other.
  std::vector<Tensor> states[2];
  std::vector<const char*> input_names, output_names;
  int parity = 0;

  void Bind(Tensor& t, std::vector<int64_t> shape, std::mt19937& rng) {
    int64_t size = 1;
    for (int64_t d : shape) size *= d;
    std::uniform_real_distribution<float> uniform(-0.1f, 0.1f);
    t.data.resize(size);
    for (float& v : t.data) v = uniform(rng);
    Check(Api().CreateTensorWithDataAsOrtValue(memory, t.data.data(), size * sizeof(float),
                                               shape.data(), shape.size(),
                                               kOnnxTensorElementDataTypeFloat, &t.value),
          "CreateTensorWithDataAsOrtValue");
  }

  ~Impl() {
    for (Tensor* t : {&x, &y}) Api().ReleaseValue(t->value);
    for (auto& set : states) {
      for (Tensor& t : set) Api().ReleaseValue(t.value);
    }
    Api().ReleaseMemoryInfo(memory);
    Api().ReleaseSession(session);
    Api().ReleaseSessionOptions(options);
    Api().ReleaseEnv(env);
  }
};

OrtRnn::OrtRnn(OrtCell cell, int input, int hidden, int layers, int batch, int steps)
    : impl_(std::make_unique<Impl>()) {
  const OrtApi& api = Api();
  Impl& m = *impl_;
  Check(api.CreateEnv(kOrtLoggingLevelWarning, "model_bench", &m.env), "CreateEnv");
  Check(api.CreateSessionOptions(&m.options), "CreateSessionOptions");
  Check(api.SetIntraOpNumThreads(m.options, 1), "SetIntraOpNumThreads");
  Check(api.SetInterOpNumThreads(m.options, 1), "SetInterOpNumThreads");
  Check(api.SetSessionGraphOptimizationLevel(m.options, kOrtEnableAll),
        "SetSessionGraphOptimizationLevel");
  const std::string path = ModelPath(cell, input, hidden, layers);
  Check(api.CreateSession(m.env, path.c_str(), m.options, &m.session), "CreateSession");
  Check(api.CreateCpuMemoryInfo(kOrtArenaAllocator, kOrtMemTypeDefault, &m.memory),
        "CreateCpuMemoryInfo");
  std::mt19937 rng(3);
  m.Bind(m.x, {steps, batch, input}, rng);
  m.Bind(m.y, {steps, batch, hidden}, rng);
  const int state_count = cell == OrtCell::kLstm ? 2 : 1;
  for (auto& set : m.states) {
    set.resize(state_count);
    for (Tensor& t : set) m.Bind(t, {layers, batch, hidden}, rng);
  }
  m.input_names = {"x", "h0"};
  m.output_names = {"y", "hn"};
  if (cell == OrtCell::kLstm) {
    m.input_names.push_back("c0");
    m.output_names.push_back("cn");
  }
}

OrtRnn::~OrtRnn() = default;

void OrtRnn::Run() {
  Impl& m = *impl_;
  std::vector<Tensor>& from = m.states[m.parity];
  std::vector<Tensor>& to = m.states[1 - m.parity];
  const OrtValue* inputs[3] = {m.x.value, from[0].value, nullptr};
  OrtValue* outputs[3] = {m.y.value, to[0].value, nullptr};
  if (from.size() == 2) {
    inputs[2] = from[1].value;
    outputs[2] = to[1].value;
  }
  Check(Api().Run(m.session, nullptr, m.input_names.data(), inputs, m.input_names.size(),
                  m.output_names.data(), m.output_names.size(), outputs),
        "Run");
  m.parity = 1 - m.parity;
}

std::string OrtDescription() {
  return absl::StrCat("ONNX Runtime ", OrtGetApiBase()->GetVersionString(),
                      " (CPU execution provider, 1 intra-op and 1 inter-op thread)");
}

}  // namespace rnnserve::bench
