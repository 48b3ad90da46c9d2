// The generated API compiles, links, and means what DESIGN.md section 4 says:
// the services exist with their methods, and the defaults are the safe ones.
#include <string>

#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "rnnserve/v1/inference.grpc.pb.h"
#include "rnnserve/v1/models.grpc.pb.h"
#include "rnnserve/v1/sessions.grpc.pb.h"

namespace rnnserve::v1 {
namespace {

// The service `name` declared in the file of message type M.
template <typename M>
const google::protobuf::ServiceDescriptor* Service(const std::string& name) {
  return M::descriptor()->file()->FindServiceByName(name);
}

TEST(ApiTest, ServicesHaveTheirMethods) {
  const auto* inference = Service<StepRequest>("InferenceService");
  ASSERT_NE(inference, nullptr);
  ASSERT_NE(inference->FindMethodByName("StreamSteps"), nullptr);
  EXPECT_TRUE(inference->FindMethodByName("StreamSteps")->client_streaming());
  EXPECT_TRUE(inference->FindMethodByName("StreamSteps")->server_streaming());
  EXPECT_NE(inference->FindMethodByName("Step"), nullptr);
  EXPECT_NE(inference->FindMethodByName("RunSequence"), nullptr);
  const auto* sessions = Service<SessionState>("SessionService");
  ASSERT_NE(sessions, nullptr);
  for (const char* method :
       {"EndSession", "ResetSession", "DescribeSession", "ExportState", "ImportState"}) {
    EXPECT_NE(sessions->FindMethodByName(method), nullptr) << method;
  }
  const auto* models = Service<ModelInfo>("ModelService");
  ASSERT_NE(models, nullptr);
  EXPECT_NE(models->FindMethodByName("ListModels"), nullptr);
  EXPECT_NE(models->FindMethodByName("DescribeModel"), nullptr);
}

TEST(ApiTest, DefaultsAreAllStepsAndNewestVersion) {
  const StepRequest request;
  EXPECT_EQ(request.output_mode(), OUTPUT_MODE_ALL_STEPS);
  EXPECT_EQ(request.model().version(), 0);  // 0: the newest version
  EXPECT_FALSE(request.start());
  EXPECT_EQ(request.input_case(), StepRequest::INPUT_NOT_SET);
}

TEST(ApiTest, StepRequestRoundTrips) {
  StepRequest request;
  request.set_session_id("user-42");
  request.mutable_model()->set_name("charlm");
  request.mutable_tokens()->add_ids(7);
  request.set_start(true);
  request.set_request_id("r1");
  StepRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(request.SerializeAsString()));
  EXPECT_EQ(parsed.session_id(), "user-42");
  EXPECT_EQ(parsed.tokens().ids(0), 7);
  EXPECT_TRUE(parsed.start());
}

}  // namespace
}  // namespace rnnserve::v1
