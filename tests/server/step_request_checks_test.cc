// Request checks that review found missing while the step request fuzzer
// (fuzz/step_request_fuzzer.cc) was written: each is refused with its code,
// never served by something else. A real server on 127.0.0.1:0.
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "rnnserve/v1/inference.grpc.pb.h"
#include "server/rnn_server.h"
#include "tests/model/test_util.h"

namespace rnnserve::server {
namespace {

class StepRequestChecksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.models = model::testing::MakeTestRepository("checks", {{"lstm_1layer", "lstm/1"}});
    options.batcher.workers = 1;
    absl::StatusOr<std::unique_ptr<RnnServer>> server = RnnServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = v1::InferenceService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
  }

  std::unique_ptr<RnnServer> server_;
  std::unique_ptr<v1::InferenceService::Stub> stub_;
};

// 2^32 + 1 narrowed to int is 1, the version that is served.
constexpr int64_t kVersionPastInt = (int64_t{1} << 32) + 1;

TEST_F(StepRequestChecksTest, AStartWithAVersionPastIntIsRefusedNotServedByVersionOne) {
  v1::StepRequest request;
  request.set_session_id("s");
  request.set_start(true);
  request.mutable_model()->set_name("lstm");
  request.mutable_model()->set_version(kVersionPastInt);
  request.mutable_floats()->mutable_values()->Resize(4, 0.5f);  // one step of input_size 4
  v1::StepResponse response;
  grpc::ClientContext context;
  const grpc::Status status = stub_->Step(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();

  request.mutable_model()->set_version(1);  // The same request is fine otherwise.
  grpc::ClientContext again;
  EXPECT_TRUE(stub_->Step(&again, request, &response).ok());
}

TEST_F(StepRequestChecksTest, ASequenceWithAVersionPastIntIsRefusedNotServedByVersionOne) {
  v1::SequenceRequest request;
  request.mutable_model()->set_name("lstm");
  request.mutable_model()->set_version(kVersionPastInt);
  request.mutable_floats()->mutable_values()->Resize(8, 0.5f);
  v1::SequenceResponse response;
  grpc::ClientContext context;
  const grpc::Status status = stub_->RunSequence(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
}

}  // namespace
}  // namespace rnnserve::server
