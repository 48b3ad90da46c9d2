// examples/v2_stream_client.py, a grpcio client on stubs generated from
// proto/inference/grpc_service.proto (as a Triton user writes one), run by
// /usr/bin/python3 against a real RnnServer on 127.0.0.1:<free port>: it
// sends the fixtures' sequences through ModelStreamInfer and ModelInfer with
// Triton's sequence parameters, step by step and in chunks, typed and raw,
// with integer (int64_param and uint64_param, one past 2^63-1) and string
// sequence ids. Its outputs equal the reference (1e-5) and the native API's
// on the same inputs (1e-6), on the demo models
// (models/) the native API's; a session it leaves open continues on the
// native API.
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
#include "tests/server/v2_test_base.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::LoadSequences;
using ::rnnserve::model::testing::ReferenceSequence;
using ::rnnserve::model::testing::TestdataPath;

class V2PythonClientTest : public V2TestBase {
 protected:
  static void SetUpTestSuite() { LoadFixtures("v2_python"); }

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

  // Starts a server on `models` (replacing the one running) and the native stubs.
  void Serve(const std::string& models) {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.models = models;
    StartServer(options);
  }

  // The script's JSON answer for `seq`, or null (and a failure with what it printed).
  nlohmann::json RunClient(const std::string& model, const ReferenceSequence& seq,
                           const std::string& sequence_id, int chunk,
                           const std::vector<std::string>& flags = {}) {
    return RunClient(model, StepsJson(seq), sequence_id, chunk, flags);
  }

  nlohmann::json RunClient(const std::string& model, const nlohmann::json& steps,
                           const std::string& sequence_id, int chunk,
                           const std::vector<std::string>& flags = {}) {
    std::vector<std::string> argv = {
        kPython,         absl::StrCat(RNNSERVE_SOURCE_DIR, "/examples/v2_stream_client.py"),
        "--stubs",       RNNSERVE_V2_PYTHON_STUBS,
        "--server",      absl::StrCat("127.0.0.1:", server_->port()),
        "--model",       model,
        "--sequence-id", sequence_id,
        "--chunk",       absl::StrCat(chunk)};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return RunExampleClient(argv, steps);
  }

  std::vector<float> NativeOutputs(const std::string& model, const ReferenceSequence& seq,
                                   const std::string& id) {
    return V2TestBase::NativeOutputs(model, StepsJson(seq), id);
  }
  using V2TestBase::NativeOutputs;
};

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
    ExpectMatches(FlatOutputs(steps), native, seq);
    const nlohmann::json chunks = RunClient("lstm", seq, absl::StrCat("text-id-", i), 3, {"--raw"});
    ASSERT_FALSE(chunks.is_null());
    ExpectMatches(FlatOutputs(chunks), native, seq);
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
  ExpectMatches(FlatOutputs(steps), native, seq);
  const nlohmann::json chunks = RunClient("lstm", seq, "unary-text-id", 4, {"--unary", "--raw"});
  ASSERT_FALSE(chunks.is_null());
  ExpectMatches(FlatOutputs(chunks), native, seq);
}

// Integer ids sent as uint64_param (--uint64-id), a small one and one past
// 2^63-1 (which int64_param cannot hold), through both RPCs, step by step and
// in chunks: the same outputs as the native API's.
TEST_F(V2PythonClientTest, SendsUint64SequenceIdsThroughBothRpcs) {
  const std::vector<ReferenceSequence> sequences = LoadSequences(TestdataPath("model/lstm_3layer"));
  ASSERT_FALSE(sequences.empty());
  const ReferenceSequence& seq = sequences.back();
  const std::vector<float> native = NativeOutputs("lstm", seq, "native-uint64");
  int round = 0;
  for (const std::string id_base : {"500", "18446744073709551000"}) {
    for (const bool unary : {false, true}) {
      for (const int chunk : {1, 4}) {
        // A fresh id each run: the last digits count the runs.
        const std::string id = absl::StrCat(id_base.substr(0, id_base.size() - 2), 10 + round++);
        SCOPED_TRACE(
            absl::StrCat(id, unary ? " ModelInfer" : " ModelStreamInfer", " chunk ", chunk));
        std::vector<std::string> flags = {"--uint64-id"};
        if (unary) flags.push_back("--unary");
        const nlohmann::json result = RunClient("lstm", seq, id, chunk, flags);
        ASSERT_FALSE(result.is_null());
        EXPECT_EQ(result.at("session_steps"), seq.steps());
        ExpectMatches(FlatOutputs(result), native, seq);
      }
    }
  }
}

// A uint64 id past 2^63-1 names the session by its decimal digits: the
// native API continues it under that name.
TEST_F(V2PythonClientTest, AUint64IdPastInt64MaxIsTheSessionsDecimalName) {
  const std::vector<ReferenceSequence> sequences = LoadSequences(TestdataPath("model/lstm_3layer"));
  const ReferenceSequence& seq = sequences.front();
  const std::string id = "18446744073709551615";  // 2^64-1
  ASSERT_TRUE(RunClient("lstm", seq, id, 2, {"--uint64-id", "--keep-open"}).is_object());
  v1::StepRequest request;
  request.set_session_id(id);
  request.mutable_model()->set_name("lstm");
  request.mutable_floats()->mutable_values()->Assign(seq.input.floats.begin(),
                                                     seq.input.floats.begin() + seq.input.shape[1]);
  v1::StepResponse response;
  grpc::ClientContext context;
  const grpc::Status status = native_->Step(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.session_steps(), seq.steps() + 1);
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
      ExpectNear(FlatOutputs(result), native);
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
  ExpectMatches(FlatOutputs(typed), native, seq);
  const nlohmann::json raw = RunClient("charlm", seq, "chars", 5, {"--raw"});
  ASSERT_FALSE(raw.is_null());
  ExpectMatches(FlatOutputs(raw), native, seq);
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
