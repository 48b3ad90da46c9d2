// What the Open Inference Protocol tests over gRPC and over REST share: the
// lstm and charlm fixtures in a test repository, a server's native stubs
// (the answers the v2 ones must equal), the reference checks, and running
// the example clients (examples/v2_*.py) on steps written to a file.
#ifndef RNNSERVE_TESTS_SERVER_V2_TEST_BASE_H_
#define RNNSERVE_TESTS_SERVER_V2_TEST_BASE_H_

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "rnnserve/v1/inference.grpc.pb.h"
#include "rnnserve/v1/sessions.grpc.pb.h"
#include "server/rnn_server.h"
#include "tests/common/program_run.h"
#include "tests/model/test_util.h"

namespace rnnserve::server {

class V2TestBase : public ::testing::Test {
 protected:
  // Call from SetUpTestSuite: lstm and charlm in a repository named `name`.
  static void LoadFixtures(const std::string& name) {
    root_ = new std::string(model::testing::MakeTestRepository(
        name, {{"lstm_3layer", "lstm/1"}, {"charlm", "charlm/1"}}));
    lstm_ = new std::vector<model::testing::ReferenceSequence>(
        model::testing::LoadSequences(model::testing::TestdataPath("model/lstm_3layer")));
    charlm_ = new std::vector<model::testing::ReferenceSequence>(
        model::testing::LoadSequences(model::testing::TestdataPath("model/charlm")));
  }

  // Starts `options` (replacing a server already running) and the native stubs.
  void StartServer(const ServerOptions& options) {
    if (server_ != nullptr) server_->Shutdown(absl::ZeroDuration());
    absl::StatusOr<std::unique_ptr<RnnServer>> server = RnnServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    native_ = v1::InferenceService::NewStub(channel_);
    sessions_ = v1::SessionService::NewStub(channel_);
  }

  // The longest lstm reference sequence.
  static const model::testing::ReferenceSequence& seq() {
    return *std::max_element(lstm_->begin(), lstm_->end(),
                             [](const auto& a, const auto& b) { return a.steps() < b.steps(); });
  }
  static int64_t InWidth() { return seq().input.shape[1]; }
  static int64_t OutWidth() { return seq().expected.shape[1]; }

  // Steps [first, first + count) of seq() through the native unary Step.
  std::vector<float> NativeSteps(const std::string& session, int64_t first, int64_t count,
                                 bool start) {
    v1::StepRequest request;
    request.set_session_id(session);
    request.set_start(start);
    request.mutable_model()->set_name("lstm");
    const float* values = seq().input.floats.data() + first * InWidth();
    request.mutable_floats()->mutable_values()->Assign(values, values + count * InWidth());
    v1::StepResponse response;
    grpc::ClientContext context;
    const grpc::Status status = native_->Step(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.outputs().values().begin(), response.outputs().values().end()};
  }

  // `got` holds rows [first, ...) of the reference outputs within 1e-5.
  static ::testing::AssertionResult MatchesReference(const std::vector<float>& got, int64_t first) {
    if (got.empty() || got.size() % OutWidth() != 0) {
      return ::testing::AssertionFailure() << got.size() << " output values";
    }
    return model::testing::OutputRowsNear(
        got.data(), seq().expected.floats.data() + first * OutWidth(),
        static_cast<int64_t>(got.size()) / OutWidth(), OutWidth());
  }

  static void ExpectNear(const std::vector<float>& v2, const std::vector<float>& native,
                         double tolerance = 1e-6) {
    ASSERT_EQ(v2.size(), native.size());
    for (size_t i = 0; i < v2.size(); ++i) EXPECT_NEAR(v2[i], native[i], tolerance) << i;
  }

  // The session's steps (DescribeSession), -1 when it is not found.
  int64_t StepsOf(const std::string& id) {
    v1::SessionRef ref;
    ref.set_session_id(id);
    v1::SessionInfo info;
    grpc::ClientContext context;
    return sessions_->DescribeSession(&context, ref, &info).ok() ? info.steps() : -1;
  }

  // The Python the examples run on, as a user's machine has it.
  static constexpr char kPython[] = "/usr/bin/python3";

  // `seq`'s inputs as the example clients read them: one token id or a row
  // of floats a step.
  static nlohmann::json StepsJson(const model::testing::ReferenceSequence& seq) {
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

  // Runs an example client, `argv` plus "--inputs <a file holding steps>";
  // its JSON answer, or null (and a failure with what it printed).
  static nlohmann::json RunExampleClient(std::vector<std::string> argv,
                                         const nlohmann::json& steps) {
    static int runs = 0;  // tests run one at a time; a file name each run
    const std::string path =
        absl::StrCat(::testing::TempDir(), "/v2_client_", getpid(), "_", runs++, ".json");
    std::ofstream(path) << steps.dump();
    argv.insert(argv.end(), {"--inputs", path});
    const ::rnnserve::testing::ProgramResult run = ::rnnserve::testing::RunProgram(argv);
    std::filesystem::remove(path);
    EXPECT_EQ(run.exit_code, 0) << run.err << run.out;
    if (run.exit_code != 0) return nullptr;
    return nlohmann::json::parse(run.out, nullptr, false);
  }

  // An example client's output rows ("outputs": one list a step), flattened.
  static std::vector<float> FlatOutputs(const nlohmann::json& result) {
    std::vector<float> values;
    for (const auto& row : result.at("outputs")) {
      for (const auto& v : row) values.push_back(v.get<float>());
    }
    return values;
  }

  // All of `steps` (as StepsJson writes them) at once through the native
  // Step on a new session `id` of `model`.
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

  // `got` holds all of `seq`'s reference outputs (1e-5) and equals `native`
  // (1e-6).
  static void ExpectMatches(const std::vector<float>& got, const std::vector<float>& native,
                            const model::testing::ReferenceSequence& seq) {
    const int64_t width = seq.expected.shape[1];
    ASSERT_EQ(static_cast<int64_t>(got.size()), seq.steps() * width);
    EXPECT_TRUE(
        model::testing::OutputRowsNear(got.data(), seq.expected.floats.data(), seq.steps(), width));
    ExpectNear(got, native);
  }

  static inline std::string* root_ = nullptr;
  static inline std::vector<model::testing::ReferenceSequence>* lstm_ = nullptr;
  static inline std::vector<model::testing::ReferenceSequence>* charlm_ = nullptr;
  std::unique_ptr<RnnServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::InferenceService::Stub> native_;
  std::unique_ptr<v1::SessionService::Stub> sessions_;
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_TESTS_SERVER_V2_TEST_BASE_H_
