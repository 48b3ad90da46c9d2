#include "server/model_service.h"

#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/model/test_util.h"

namespace rnnserve::server {
namespace {

namespace pb = ::rnnserve::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A repository with lstm/1 and gru/1 from the fixtures.
std::string MakeRepository() {
  return model::testing::MakeTestRepository(
      "model_service_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()),
      {{"lstm_1layer", "lstm/1"}, {"gru_1layer", "gru/1"}});
}

class ModelServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<ServedModels>> models =
        ServedModels::Load(MakeRepository(), 100);
    ASSERT_TRUE(models.ok()) << models.status();
    models_ = *std::move(models);
    service_ = std::make_unique<ModelServiceImpl>(models_.get());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    stub_ = pb::ModelService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  grpc::Status Describe(const std::string& name, int64_t version, pb::ModelInfo* info) {
    pb::ModelRef ref;
    ref.set_name(name);
    ref.set_version(version);
    grpc::ClientContext context;
    return stub_->DescribeModel(&context, ref, info);
  }

  // Destroyed in reverse: the server stops before the service and models go.
  std::unique_ptr<ServedModels> models_;
  std::unique_ptr<ModelServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<pb::ModelService::Stub> stub_;
};

TEST_F(ModelServiceTest, ListsEveryVersionSorted) {
  pb::ListModelsResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->ListModels(&context, pb::ListModelsRequest(), &response).ok());
  ASSERT_EQ(response.models_size(), 2);
  EXPECT_EQ(response.models(0).model().name(), "gru");
  EXPECT_EQ(response.models(0).model().version(), 1);
  EXPECT_EQ(response.models(0).cell(), "gru");
  EXPECT_EQ(response.models(1).model().name(), "lstm");
  EXPECT_EQ(response.models(1).model().version(), 1);
  EXPECT_EQ(response.models(1).cell(), "lstm");
  EXPECT_THAT(response.models(1).versions(), ElementsAre(1));
}

TEST_F(ModelServiceTest, DescribeFillsEveryField) {
  const ServedModelPtr lstm = *models_->Find("lstm", 1);
  const model::LayerStack& stack = *lstm->loaded.stack;
  pb::ModelInfo info;
  const grpc::Status status = Describe("lstm", 0, &info);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(info.model().name(), "lstm");
  EXPECT_EQ(info.model().version(), 1);  // 0 resolved to the newest
  EXPECT_THAT(info.versions(), ElementsAre(1));
  EXPECT_EQ(info.format(), lstm->loaded.info.format);
  EXPECT_THAT(info.format(), HasSubstr("native"));
  EXPECT_EQ(info.cell(), "lstm");
  EXPECT_EQ(info.num_layers(), 1);
  EXPECT_EQ(info.hidden_size(), 5);
  EXPECT_EQ(info.proj_size(), 0);
  EXPECT_FALSE(info.bidirectional());
  EXPECT_EQ(info.input_kind(), pb::INPUT_KIND_FLOATS);
  EXPECT_EQ(info.input_size(), 4);
  EXPECT_EQ(info.vocabulary_size(), 0);
  EXPECT_EQ(info.output_size(), stack.output_size());
  EXPECT_EQ(info.state_size(), stack.state_size());
  EXPECT_EQ(info.state_size(), 2 * 5);  // h and c
  EXPECT_TRUE(info.streamable());
  EXPECT_EQ(info.parameter_count(), lstm->loaded.info.parameter_count);
  EXPECT_GT(info.parameter_count(), 0);
  EXPECT_EQ(info.fingerprint(), lstm->loaded.info.fingerprint);
  EXPECT_THAT(info.fingerprint(), HasSubstr("sha256:"));
  EXPECT_EQ(info.weights(), "fp32");
  EXPECT_EQ(info.weight_bytes(), stack.weight_bytes());
  EXPECT_GT(info.weight_bytes(), 0);

  pb::ModelInfo explicit_version;
  ASSERT_TRUE(Describe("lstm", 1, &explicit_version).ok());
  EXPECT_EQ(explicit_version.SerializeAsString(), info.SerializeAsString());
}

TEST(ModelServiceTransformTest, DescribeShowsTheTransforms) {
  // The demo forecaster takes and returns sunspot numbers (issue 21); the
  // ONNX version's Sub/Div and Mul/Add fold into the same transforms.
  absl::StatusOr<std::unique_ptr<ServedModels>> models =
      ServedModels::Load(model::testing::SourcePath("models"), 100);
  ASSERT_TRUE(models.ok()) << models.status();
  for (const std::string name : {"forecast", "forecast_onnx"}) {
    pb::ModelInfo info;
    FillModelInfo(**(*models)->Find(name, 1), {1}, &info);
    ASSERT_TRUE(info.has_input_transform()) << name;
    EXPECT_THAT(info.input_transform().offset(), ElementsAre(43.726720647773284f)) << name;
    EXPECT_THAT(info.input_transform().scale(), ElementsAre(34.06106588296828f)) << name;
    EXPECT_THAT(info.output_transform().offset(), ElementsAre(43.726720647773284f)) << name;
    EXPECT_THAT(info.output_transform().scale(), ElementsAre(34.06106588296828f)) << name;
  }
  pb::ModelInfo charlm;
  FillModelInfo(**(*models)->Find("charlm", 1), {1}, &charlm);
  EXPECT_FALSE(charlm.has_input_transform());
  EXPECT_FALSE(charlm.has_output_transform());
}

TEST_F(ModelServiceTest, UnknownModelOrVersionIsNotFound) {
  pb::ModelInfo info;
  grpc::Status status = Describe("transformer", 0, &info);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("gru, lstm"));  // what is served
  status = Describe("lstm", 7, &info);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("versions: 1"));
}

TEST_F(ModelServiceTest, EmptyNameOrBadVersionIsInvalidArgument) {
  pb::ModelInfo info;
  grpc::Status status = Describe("", 0, &info);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("expected"));
  status = Describe("lstm", -1, &info);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  status = Describe("lstm", int64_t{1} << 40, &info);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace rnnserve::server
