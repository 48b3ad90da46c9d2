// What the Open Inference Protocol tests over gRPC and over REST share: the
// lstm and charlm fixtures in a test repository, a server's native stubs
// (the answers the v2 ones must equal), the reference checks.
#ifndef RNNSERVE_TESTS_SERVER_V2_TEST_BASE_H_
#define RNNSERVE_TESTS_SERVER_V2_TEST_BASE_H_

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "rnnserve/v1/inference.grpc.pb.h"
#include "rnnserve/v1/sessions.grpc.pb.h"
#include "server/rnn_server.h"
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
