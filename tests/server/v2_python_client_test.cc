// examples/v2_stream_client.py, a grpcio client on stubs generated from
// proto/inference/grpc_service.proto (as a Triton user writes one), run by
// /usr/bin/python3 against a real RnnServer on 127.0.0.1:<free port>: it
// sends the fixtures' sequences through ModelStreamInfer and ModelInfer with
// Triton's sequence parameters, step by step and in chunks, typed and raw,
// with integer and string sequence ids. Its outputs equal the reference
// (1e-5) and the native API's on the same inputs (1e-6), on the demo models
// (models/) the native API's; a session it leaves open continues on the
// native API.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "rnnserve/v1/inference.grpc.pb.h"
#include "server/rnn_server.h"
#include "tests/common/program_run.h"
#include "tests/model/test_util.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::LoadSequences;
using ::rnnserve::model::testing::OutputRowsNear;
using ::rnnserve::model::testing::ReferenceSequence;
using ::rnnserve::model::testing::TestdataPath;

constexpr char kPython[] = "/usr/bin/python3";

class V2PythonClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(model::testing::MakeTestRepository(
        "v2_python", {{"lstm_3layer", "lstm/1"}, {"charlm", "charlm/1"}}));
  }

  void SetUp() override {
    // What a Triton user's machine has: Python with grpcio and protobuf.
    const ::rnnserve::testing::ProgramResult python =
        ::rnnserve::testing::RunProgram({kPython, "-c", "import grpc, google.protobuf"});
    if (python.exit_code != 0) {
      GTEST_SKIP() << kPython << " cannot import grpc: scripts/install_deps.sh installs "
                   << "python3-grpcio and python3-protobuf (" << python.err << ")";
    }
    Serve(*root_);
  }

  // Starts a server on `models` (replacing the one running) and the native stub.
  void Serve(const std::string& models) {
    if (server_ != nullptr) server_->Shutdown(absl::ZeroDuration());
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.models = models;
    absl::StatusOr<std::unique_ptr<RnnServer>> server = RnnServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    native_ = v1::InferenceService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
  }

  // The script's JSON answer for `seq` (its steps written to a file), or a
  // failure with what it printed.
  nlohmann::json RunClient(const std::string& model, const ReferenceSequence& seq,
                           const std::string& sequence_id, int chunk,
                           const std::vector<std::string>& flags = {}) {
    return RunClient(model, StepsOf(seq), sequence_id, chunk, flags);
  }

  // `seq`'s inputs as the script reads them: one token id or a row of floats a step.
  static nlohmann::json StepsOf(const ReferenceSequence& seq) {
    nlohmann::json steps = nlohmann::json::array();
    for (int64_t t = 0; t < seq.steps(); ++t) {
      if (seq.input.kind == util::NpyArray::Kind::kInteger) {
        steps.push_back(seq.input.integers[t]);
      } else {
        const int64_t width = seq.input.shape[1];
        steps.push_back(std::vector<float>(seq.input.floats.begin() + t * width,
                                           seq.input.floats.begin() + (t + 1) * width));
      }
    }
    return steps;
  }

  nlohmann::json RunClient(const std::string& model, const nlohmann::json& steps,
                           const std::string& sequence_id, int chunk,
                           const std::vector<std::string>& flags = {}) {
    const std::string path =
        absl::StrCat(::testing::TempDir(), "/v2_python_", sequence_id, "_", getpid(), ".json");
    std::ofstream(path) << steps.dump();
    std::vector<std::string> argv = {
        kPython,         absl::StrCat(RNNSERVE_SOURCE_DIR, "/examples/v2_stream_client.py"),
        "--stubs",       RNNSERVE_V2_PYTHON_STUBS,
        "--server",      absl::StrCat("127.0.0.1:", server_->port()),
        "--model",       model,
        "--sequence-id", sequence_id,
        "--inputs",      path,
        "--chunk",       absl::StrCat(chunk)};
    argv.insert(argv.end(), flags.begin(), flags.end());
    const ::rnnserve::testing::ProgramResult run = ::rnnserve::testing::RunProgram(argv);
    std::filesystem::remove(path);
    EXPECT_EQ(run.exit_code, 0) << run.err << run.out;
    if (run.exit_code != 0) return {};
    return nlohmann::json::parse(run.out);
  }

  // The client's output rows, flattened.
  static std::vector<float> Flat(const nlohmann::json& result) {
    std::vector<float> values;
    for (const auto& row : result.at("outputs")) {
      for (const auto& v : row) values.push_back(v.get<float>());
    }
    return values;
  }

  // All of `seq` at once through the native Step on session `id`.
  std::vector<float> NativeOutputs(const std::string& model, const ReferenceSequence& seq,
                                   const std::string& id) {
    return NativeOutputs(model, StepsOf(seq), id);
  }

  // All of `steps` (as StepsOf writes them) at once through the native Step.
  std::vector<float> NativeOutputs(const std::string& model, const nlohmann::json& steps,
                                   const std::string& id) {
    v1::StepRequest request;
    request.set_session_id(id);
    request.set_start(true);
    request.mutable_model()->set_name(model);
    for (const nlohmann::json& step : steps) {
      if (step.is_number()) {
        request.mutable_tokens()->add_ids(step.get<int64_t>());
      } else {
        for (const nlohmann::json& v : step) request.mutable_floats()->add_values(v.get<float>());
      }
    }
    v1::StepResponse response;
    grpc::ClientContext context;
    const grpc::Status status = native_->Step(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.outputs().values().begin(), response.outputs().values().end()};
  }

  static void ExpectMatches(const std::vector<float>& got, const std::vector<float>& native,
                            const ReferenceSequence& seq) {
    const int64_t width = seq.expected.shape[1];
    ASSERT_EQ(static_cast<int64_t>(got.size()), seq.steps() * width);
    EXPECT_TRUE(OutputRowsNear(got.data(), seq.expected.floats.data(), seq.steps(), width));
    ASSERT_EQ(got.size(), native.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], native[i], 1e-6) << i;
  }

  static std::string* root_;
  std::unique_ptr<RnnServer> server_;
  std::unique_ptr<v1::InferenceService::Stub> native_;
};

std::string* V2PythonClientTest::root_ = nullptr;

TEST_F(V2PythonClientTest, StreamsTheLstmFixturesStepByStepAndInChunks) {
  const std::vector<ReferenceSequence> sequences = LoadSequences(TestdataPath("model/lstm_3layer"));
  ASSERT_FALSE(sequences.empty());
  for (size_t i = 0; i < sequences.size(); ++i) {
    const ReferenceSequence& seq = sequences[i];
    const std::vector<float> native = NativeOutputs("lstm", seq, absl::StrCat("native-", i));
    // Step by step with an integer id, then in raw chunks of 3 with a string id.
    const nlohmann::json steps = RunClient("lstm", seq, absl::StrCat(100 + i), 1);
    ASSERT_FALSE(steps.is_null());
    EXPECT_EQ(steps.at("model_version"), "1");
    EXPECT_EQ(steps.at("session_steps"), seq.steps());
    ExpectMatches(Flat(steps), native, seq);
    const nlohmann::json chunks = RunClient("lstm", seq, absl::StrCat("text-id-", i), 3, {"--raw"});
    ASSERT_FALSE(chunks.is_null());
    ExpectMatches(Flat(chunks), native, seq);
  }
}

// The same through unary ModelInfer, one call a chunk.
TEST_F(V2PythonClientTest, SendsTheLstmFixturesThroughModelInferStepByStepAndInChunks) {
  const std::vector<ReferenceSequence> sequences = LoadSequences(TestdataPath("model/lstm_3layer"));
  ASSERT_FALSE(sequences.empty());
  const ReferenceSequence& seq = sequences.back();
  const std::vector<float> native = NativeOutputs("lstm", seq, "native-unary");
  const nlohmann::json steps = RunClient("lstm", seq, "300", 1, {"--unary"});
  ASSERT_FALSE(steps.is_null());
  EXPECT_EQ(steps.at("session_steps"), seq.steps());
  ExpectMatches(Flat(steps), native, seq);
  const nlohmann::json chunks = RunClient("lstm", seq, "unary-text-id", 4, {"--unary", "--raw"});
  ASSERT_FALSE(chunks.is_null());
  ExpectMatches(Flat(chunks), native, seq);
}

// The demo models of models/ (the GRU forecaster and the character LSTM, each
// as rnnserve's format and as ONNX), through both RPCs, equal the native API
// on the same inputs (no reference outputs ship with them).
TEST_F(V2PythonClientTest, RunsTheDemoModelsThroughBothRpcs) {
  Serve(absl::StrCat(RNNSERVE_SOURCE_DIR, "/models"));
  nlohmann::json floats = nlohmann::json::array();
  nlohmann::json tokens = nlohmann::json::array();
  for (int t = 0; t < 12; ++t) {
    floats.push_back({0.1f * t - 0.5f});
    tokens.push_back((t * 37) % 98);
  }
  for (const std::string model : {"forecast", "forecast_onnx", "charlm", "charlm_onnx"}) {
    SCOPED_TRACE(model);
    const nlohmann::json& steps = model.rfind("charlm", 0) == 0 ? tokens : floats;
    const std::vector<float> native = NativeOutputs(model, steps, "native-" + model);
    ASSERT_FALSE(native.empty());
    for (const bool unary : {false, true}) {
      std::vector<std::string> flags = {"--raw"};
      if (unary) flags.push_back("--unary");
      const nlohmann::json result =
          RunClient(model, steps, absl::StrCat(unary ? "unary-" : "stream-", model), 5, flags);
      ASSERT_FALSE(result.is_null());
      EXPECT_EQ(result.at("session_steps"), 12);
      const std::vector<float> got = Flat(result);
      ASSERT_EQ(got.size(), native.size());
      for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], native[i], 1e-6) << i;
    }
  }
}

TEST_F(V2PythonClientTest, StreamsTokenIdsToTheCharacterModel) {
  const std::vector<ReferenceSequence> sequences = LoadSequences(TestdataPath("model/charlm"));
  ASSERT_FALSE(sequences.empty());
  const ReferenceSequence& seq = sequences.back();
  const std::vector<float> native = NativeOutputs("charlm", seq, "native-charlm");
  const nlohmann::json typed = RunClient("charlm", seq, "7", 4);
  ASSERT_FALSE(typed.is_null());
  ExpectMatches(Flat(typed), native, seq);
  const nlohmann::json raw = RunClient("charlm", seq, "chars", 5, {"--raw"});
  ASSERT_FALSE(raw.is_null());
  ExpectMatches(Flat(raw), native, seq);
}

TEST_F(V2PythonClientTest, ASessionItLeavesOpenContinuesOnTheNativeApi) {
  const std::vector<ReferenceSequence> sequences = LoadSequences(TestdataPath("model/lstm_3layer"));
  const ReferenceSequence& seq = sequences.front();
  ASSERT_TRUE(RunClient("lstm", seq, "open-1", 2, {"--keep-open"}).is_object());
  // The same inputs again on the native API continue the session: the
  // answer says where it stands.
  v1::StepRequest request;
  request.set_session_id("open-1");
  request.mutable_model()->set_name("lstm");
  request.mutable_floats()->mutable_values()->Assign(seq.input.floats.begin(),
                                                     seq.input.floats.begin() + seq.input.shape[1]);
  v1::StepResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(native_->Step(&context, request, &response).ok());
  EXPECT_EQ(response.session_steps(), seq.steps() + 1);
}

}  // namespace
}  // namespace rnnserve::server
