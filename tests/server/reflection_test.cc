// Server reflection as the tools people already use see it: the real buf CLI
// (npm @bufbuild/buf, which scripts/install_deps.sh installs under
// RNNSERVE_TOOLS_PREFIX) against a real rnnserve process, with no schema but
// what reflection serves. Every service reflection lists must be described
// (grpc.health.v1.Health was listed but not described, issue 15), and calls
// built from the described schema must answer as the C++ stubs' do.
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "rnnserve/v1/inference.pb.h"
#include "rnnserve/v1/models.pb.h"
#include "rnnserve/v1/sessions.pb.h"
#include "tests/common/program_run.h"
#include "tests/common/server_process.h"
#include "tests/model/test_util.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::LoadSequences;
using ::rnnserve::model::testing::MakeTestRepository;
using ::rnnserve::model::testing::ReferenceSequence;
using ::rnnserve::model::testing::TestdataPath;
using ::rnnserve::testing::ProgramResult;
using ::rnnserve::testing::RunProgram;
using ::rnnserve::testing::ServerProcess;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;

constexpr char kBuf[] = RNNSERVE_TOOLS_PREFIX "/bin/buf";

// buf curl exits with the gRPC code shifted left by three when the RPC fails.
constexpr int BufExitCode(grpc::StatusCode code) { return static_cast<int>(code) << 3; }

template <typename Message>
std::string ToJson(const Message& message) {
  std::string json;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(message, &json).ok());
  return json;
}

template <typename Message>
Message FromJson(const std::string& json) {
  Message message;
  const auto parsed = google::protobuf::util::JsonStringToMessage(json, &message);
  EXPECT_TRUE(parsed.ok()) << parsed.ToString() << " in: " << json;
  return message;
}

// A server on a repository holding the 2-layer GRU fixture as model "gru".
class ReflectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kBuf)) {
      GTEST_SKIP() << kBuf << " not found: scripts/install_deps.sh installs it (npm @bufbuild/buf)";
    }
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    absl::StatusOr<std::unique_ptr<ServerProcess>> server =
        ServerProcess::Start({"--models=" + MakeTestRepository(name, {{"gru_2layer", "gru/1"}})});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  // buf curl over plain-text HTTP/2 with the gRPC protocol, the schema from
  // server reflection; `method` is "package.Service/Method" or empty.
  ProgramResult Curl(const std::string& method, const std::vector<std::string>& flags) const {
    std::vector<std::string> argv = {
        kBuf, "curl", "--protocol", "grpc", "--http2-prior-knowledge", "--reflect"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.push_back(absl::StrCat("http://", server_->address(), "/", method));
    return RunProgram(argv, "", absl::Seconds(60));
  }

  // A unary call that must succeed; its response.
  template <typename Response, typename Request>
  Response Call(const std::string& method, const Request& request) const {
    const ProgramResult r = Curl(method, {"--data", ToJson(request)});
    EXPECT_EQ(r.exit_code, 0) << method << ": " << r.err;
    return FromJson<Response>(r.out);
  }

  std::unique_ptr<ServerProcess> server_;
};

TEST_F(ReflectionTest, ListsAndDescribesEveryService) {
  const ProgramResult r = Curl("", {"--list-methods"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> methods = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  EXPECT_THAT(methods, IsSupersetOf({
                           "grpc.health.v1.Health/Check",
                           "grpc.health.v1.Health/Watch",
                           "rnnserve.v1.InferenceService/StreamSteps",
                           "rnnserve.v1.InferenceService/Step",
                           "rnnserve.v1.InferenceService/RunSequence",
                           "rnnserve.v1.ModelService/ListModels",
                           "rnnserve.v1.ModelService/DescribeModel",
                           "rnnserve.v1.SessionService/EndSession",
                           "rnnserve.v1.SessionService/ResetSession",
                           "rnnserve.v1.SessionService/DescribeSession",
                           "rnnserve.v1.SessionService/ExportState",
                           "rnnserve.v1.SessionService/ImportState",
                       }))
      << r.out;
}

TEST_F(ReflectionTest, HealthCheckThroughReflection) {
  for (const char* service : {"", "gru"}) {
    const ProgramResult r = Curl("grpc.health.v1.Health/Check",
                                 {"--data", absl::StrCat(R"({"service": ")", service, R"("})")});
    EXPECT_EQ(r.exit_code, 0) << service << ": " << r.err;
    EXPECT_THAT(r.out, HasSubstr(R"("status": "SERVING")")) << service;
  }
  const ProgramResult unknown =
      Curl("grpc.health.v1.Health/Check", {"--data", R"({"service": "no_such_model"})"});
  EXPECT_EQ(unknown.exit_code, BufExitCode(grpc::StatusCode::NOT_FOUND)) << unknown.err;
}

TEST_F(ReflectionTest, ModelServiceThroughReflection) {
  const auto list =
      Call<v1::ListModelsResponse>("rnnserve.v1.ModelService/ListModels", v1::ListModelsRequest());
  ASSERT_EQ(list.models_size(), 1) << list.DebugString();
  EXPECT_EQ(list.models(0).model().name(), "gru");
  v1::ModelRef ref;
  ref.set_name("gru");
  const auto info = Call<v1::ModelInfo>("rnnserve.v1.ModelService/DescribeModel", ref);
  EXPECT_EQ(info.cell(), "gru");
  EXPECT_EQ(info.num_layers(), 2);
  EXPECT_TRUE(info.streamable());
}

// Steps built from the reflected schema reach the model: their outputs match
// the PyTorch reference as the C++ stubs' do (1e-5), and the session service
// sees the session they made.
TEST_F(ReflectionTest, StepsAndSessionsThroughReflection) {
  const ReferenceSequence sequence = LoadSequences(TestdataPath("model/gru_2layer")).back();
  const int64_t input_size = sequence.input.shape[1];
  const int64_t output_size = sequence.expected.shape[1];
  constexpr int kSteps = 3;
  v1::StepRequest step;
  step.set_session_id("buf-session");
  step.mutable_model()->set_name("gru");
  step.set_start(true);
  step.mutable_floats()->set_steps(kSteps);
  for (int64_t i = 0; i < kSteps * input_size; ++i) {
    step.mutable_floats()->add_values(sequence.input.floats[i]);
  }
  const auto response = Call<v1::StepResponse>("rnnserve.v1.InferenceService/Step", step);
  EXPECT_EQ(response.session_steps(), kSteps);
  ASSERT_EQ(response.outputs().values_size(), kSteps * output_size) << response.DebugString();
  for (int64_t i = 0; i < kSteps * output_size; ++i) {
    EXPECT_NEAR(response.outputs().values(i), sequence.expected.floats[i], 1e-5) << i;
  }

  v1::SessionRef session;
  session.set_session_id("buf-session");
  const auto described =
      Call<v1::SessionInfo>("rnnserve.v1.SessionService/DescribeSession", session);
  EXPECT_EQ(described.steps(), kSteps);
  Call<v1::SessionInfo>("rnnserve.v1.SessionService/EndSession", session);
  const ProgramResult gone =
      Curl("rnnserve.v1.SessionService/DescribeSession", {"--data", ToJson(session)});
  EXPECT_EQ(gone.exit_code, BufExitCode(grpc::StatusCode::NOT_FOUND)) << gone.err;
}

TEST_F(ReflectionTest, RunSequenceThroughReflection) {
  const ReferenceSequence sequence = LoadSequences(TestdataPath("model/gru_2layer")).back();
  v1::SequenceRequest request;
  request.mutable_model()->set_name("gru");
  request.mutable_floats()->set_steps(static_cast<int>(sequence.steps()));
  for (float v : sequence.input.floats) request.mutable_floats()->add_values(v);
  const auto response =
      Call<v1::SequenceResponse>("rnnserve.v1.InferenceService/RunSequence", request);
  ASSERT_EQ(response.outputs().values_size(), static_cast<int>(sequence.expected.floats.size()));
  for (size_t i = 0; i < sequence.expected.floats.size(); ++i) {
    ASSERT_NEAR(response.outputs().values(i), sequence.expected.floats[i], 1e-5) << i;
  }
}

}  // namespace
}  // namespace rnnserve::server
