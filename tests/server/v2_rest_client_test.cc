// examples/v2_rest_client.py, a REST client on Python's standard library
// alone (http.client and json, as a KServe user writes one), run by
// /usr/bin/python3 against a real RnnServer's HTTP listener on
// 127.0.0.1:<free port>: it streams the fixtures' sequences with Triton's
// sequence parameters, step by step and in chunks, with integer and string
// sequence ids. Its outputs equal the native API's on the same inputs (1e-6)
// and the reference (1e-5); on the demo models (models/, token ids as INT64)
// the native API's; a session it starts over REST continues over gRPC
// (examples/v2_stream_client.py).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/rnn_server.h"
#include "tests/common/program_run.h"
#include "tests/model/test_util.h"
#include "tests/server/v2_test_base.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::ReferenceSequence;
using json = nlohmann::json;

class V2RestClientTest : public V2TestBase {
 protected:
  static void SetUpTestSuite() { LoadFixtures("v2_rest_client"); }

  void SetUp() override { Serve(*root_); }

  // Starts a server with its HTTP listener on `models` (replacing the one running).
  void Serve(const std::string& models) {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.http_listen = "127.0.0.1:0";
    options.models = models;
    StartServer(options);
    ASSERT_GT(server_->http_port(), 0);
  }

  // The example's JSON answer for `steps`, or null (and a failure).
  json RunRest(const std::string& model, const json& steps, const std::string& sequence_id,
               int chunk, const std::vector<std::string>& flags = {}) {
    std::vector<std::string> argv = {
        kPython,         absl::StrCat(RNNSERVE_SOURCE_DIR, "/examples/v2_rest_client.py"),
        "--url",         absl::StrCat("http://127.0.0.1:", server_->http_port()),
        "--model",       model,
        "--sequence-id", sequence_id,
        "--chunk",       absl::StrCat(chunk)};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return RunExampleClient(argv, steps);
  }
};

TEST_F(V2RestClientTest, StreamsTheLstmFixturesStepByStepAndInChunks) {
  ASSERT_FALSE(lstm_->empty());
  for (size_t i = 0; i < lstm_->size(); ++i) {
    const ReferenceSequence& seq = (*lstm_)[i];
    const json steps = StepsJson(seq);
    const std::vector<float> native = NativeOutputs("lstm", steps, absl::StrCat("native-", i));
    // Step by step with an integer id, then in chunks of 3 with a string id.
    const json one = RunRest("lstm", steps, absl::StrCat(100 + i), 1);
    ASSERT_TRUE(one.is_object());
    EXPECT_EQ(one.at("model_version"), "1");
    EXPECT_EQ(one.at("session_steps"), seq.steps());
    ExpectMatches(FlatOutputs(one), native, seq);
    const json chunks = RunRest("lstm", steps, absl::StrCat("rest-text-", i), 3);
    ASSERT_TRUE(chunks.is_object());
    EXPECT_EQ(chunks.at("session_steps"), seq.steps());
    ExpectMatches(FlatOutputs(chunks), native, seq);
    // sequence_end ended both sessions.
    EXPECT_EQ(StepsOf(absl::StrCat(100 + i)), -1);
    EXPECT_EQ(StepsOf(absl::StrCat("rest-text-", i)), -1);
  }
}

TEST_F(V2RestClientTest, StreamsTokenIdsToTheCharacterModel) {
  ASSERT_FALSE(charlm_->empty());
  const ReferenceSequence& seq = charlm_->back();
  const json steps = StepsJson(seq);
  const std::vector<float> native = NativeOutputs("charlm", steps, "native-charlm");
  for (const int chunk : {1, 4}) {
    const json result = RunRest("charlm", steps, absl::StrCat("chars-", chunk), chunk);
    ASSERT_TRUE(result.is_object());
    ExpectMatches(FlatOutputs(result), native, seq);
  }
}

// The demo models of models/ (the GRU forecaster and the character LSTM,
// each as rnnserve's format and as ONNX) equal the native API on the same
// inputs (no reference outputs ship with them).
TEST_F(V2RestClientTest, RunsTheDemoModels) {
  Serve(absl::StrCat(RNNSERVE_SOURCE_DIR, "/models"));
  json floats = json::array();
  json tokens = json::array();
  for (int t = 0; t < 12; ++t) {
    floats.push_back({0.1f * t - 0.5f});
    tokens.push_back((t * 37) % 98);
  }
  for (const std::string model : {"forecast", "forecast_onnx", "charlm", "charlm_onnx"}) {
    SCOPED_TRACE(model);
    const json& steps = model.rfind("charlm", 0) == 0 ? tokens : floats;
    const std::vector<float> native = NativeOutputs(model, steps, "native-" + model);
    ASSERT_FALSE(native.empty());
    for (const int chunk : {1, 5}) {
      const json result = RunRest(model, steps, absl::StrCat("rest-", model, "-", chunk), chunk);
      ASSERT_TRUE(result.is_object());
      EXPECT_EQ(result.at("session_steps"), 12);
      ExpectNear(FlatOutputs(result), native);
    }
  }
}

// A session started over REST continues over gRPC's ModelStreamInfer: the
// two halves' outputs are the whole sequence's.
TEST_F(V2RestClientTest, ASessionStartedOverRestContinuesOverGrpc) {
  if (::rnnserve::testing::RunProgram({kPython, "-c", "import grpc, google.protobuf"}).exit_code !=
      0) {
    GTEST_SKIP() << kPython << " cannot import grpc: scripts/install_deps.sh installs "
                 << "python3-grpcio and python3-protobuf";
  }
  const ReferenceSequence& sequence = seq();
  const json steps = StepsJson(sequence);
  const int64_t half = sequence.steps() / 2;
  ASSERT_GT(half, 0);
  const std::vector<float> native = NativeOutputs("lstm", steps, "native-across");
  const json rest =
      RunRest("lstm", json(steps.begin(), steps.begin() + half), "77", 2, {"--keep-open"});
  ASSERT_TRUE(rest.is_object());
  EXPECT_EQ(StepsOf("77"), half);
  const json grpc = RunExampleClient(
      {kPython, absl::StrCat(RNNSERVE_SOURCE_DIR, "/examples/v2_stream_client.py"), "--stubs",
       RNNSERVE_V2_PYTHON_STUBS, "--server", absl::StrCat("127.0.0.1:", server_->port()), "--model",
       "lstm", "--sequence-id", "77", "--chunk", "2", "--continue"},
      json(steps.begin() + half, steps.end()));
  ASSERT_TRUE(grpc.is_object());
  EXPECT_EQ(grpc.at("session_steps"), sequence.steps());
  std::vector<float> both = FlatOutputs(rest);
  const std::vector<float> rest_of = FlatOutputs(grpc);
  both.insert(both.end(), rest_of.begin(), rest_of.end());
  ExpectMatches(both, native, sequence);
  EXPECT_EQ(StepsOf("77"), -1);  // the gRPC half's sequence_end ended it
}

}  // namespace
}  // namespace rnnserve::server
