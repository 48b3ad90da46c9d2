// Model hot reload in a real build/bin/rnnserve process, as the README tells
// operators to do it: a new version folder written elsewhere and moved into
// the repository, then SIGHUP (or nothing, with --model_poll_interval). New
// sessions take the new version; a session already open keeps its own.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "rnnserve/v1/inference.grpc.pb.h"
#include "rnnserve/v1/models.grpc.pb.h"
#include "tests/common/server_process.h"
#include "tests/model/test_util.h"
#include "tests/server/reference_steps.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::LoadSequences;
using ::rnnserve::model::testing::MakeTestRepository;
using ::rnnserve::model::testing::ReferenceSequence;
using ::rnnserve::model::testing::TestdataPath;
using ::rnnserve::testing::ServerProcess;
using ::testing::ElementsAre;

class HotReloadTest : public ::testing::Test {
 protected:
  // Serves gru_2layer as gru/1 with `flags`, and opens session "old" on it.
  void Start(const std::vector<std::string>& flags) {
    models_ = MakeTestRepository(::testing::UnitTest::GetInstance()->current_test_info()->name(),
                                 {{"gru_2layer", "gru/1"}});
    std::vector<std::string> all = {"--models=" + models_};
    all.insert(all.end(), flags.begin(), flags.end());
    absl::StatusOr<std::unique_ptr<ServerProcess>> started = ServerProcess::Start(all);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = *std::move(started);
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    inference_ = v1::InferenceService::NewStub(channel_);
    ASSERT_TRUE(Step(ReferenceStep("gru", "old", v1_, 0)).ok());
  }

  // gru_1layer, written beside the repository and renamed into it as gru/2:
  // the server never sees half a model.
  void MoveInVersionTwo() {
    const std::string staging = models_ + "_staging";
    std::filesystem::remove_all(staging);
    std::filesystem::copy(TestdataPath("model/gru_1layer"), staging);
    std::filesystem::rename(staging, models_ + "/gru/2");
  }

  // The versions of "gru" the server lists once they are not {1} any more,
  // or {1} after 30 s.
  std::vector<int64_t> VersionsOnceChanged() {
    auto models = v1::ModelService::NewStub(channel_);
    std::vector<int64_t> versions;
    for (const absl::Time give_up = absl::Now() + absl::Seconds(30); absl::Now() < give_up;) {
      grpc::ClientContext context;
      v1::ListModelsResponse response;
      EXPECT_TRUE(models->ListModels(&context, {}, &response).ok());
      for (const v1::ModelInfo& info : response.models()) {
        if (info.model().name() == "gru")
          versions.assign(info.versions().begin(), info.versions().end());
      }
      if (versions != std::vector<int64_t>{1}) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return versions;
  }

  grpc::Status Step(const v1::StepRequest& request) {
    grpc::ClientContext context;
    return inference_->Step(&context, request, &response_);
  }

  // "old" goes on with gru/1's reference outputs; "new" starts on gru/2.
  void ExpectOldSessionKeepsItsVersionAndNewSessionsTakeTheNewOne() {
    for (int64_t t = 1; t < 5; ++t) {
      v1::StepRequest request = ReferenceStep("gru", "old", v1_, t);
      ASSERT_TRUE(Step(request).ok());
      EXPECT_EQ(response_.model().version(), 1);
      EXPECT_TRUE(MatchesReference(response_, v1_, t)) << "old session, step " << t;
    }
    for (int64_t t = 0; t < 5; ++t) {
      ASSERT_TRUE(Step(ReferenceStep("gru", "new", v2_, t)).ok());
      EXPECT_EQ(response_.model().version(), 2);
      EXPECT_TRUE(MatchesReference(response_, v2_, t)) << "new session, step " << t;
    }
  }

  void TearDown() override {
    inference_.reset();
    channel_.reset();  // an idle channel would hold up the graceful GOAWAY
    if (server_ == nullptr) return;
    server_->Signal(SIGTERM);
    EXPECT_EQ(server_->Wait(absl::Seconds(30)), 0) << server_->Log();
  }

  const ReferenceSequence v1_ = LoadSequences(TestdataPath("model/gru_2layer")).back();
  const ReferenceSequence v2_ = LoadSequences(TestdataPath("model/gru_1layer")).back();
  std::string models_;
  std::unique_ptr<ServerProcess> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::InferenceService::Stub> inference_;
  v1::StepResponse response_;
};

TEST_F(HotReloadTest, SighupServesAVersionMovedIntoTheRepository) {
  Start({});
  MoveInVersionTwo();
  server_->Signal(SIGHUP);
  EXPECT_THAT(VersionsOnceChanged(), ElementsAre(1, 2)) << server_->Log();
  ExpectOldSessionKeepsItsVersionAndNewSessionsTakeTheNewOne();
  EXPECT_THAT(server_->Log(), ::testing::HasSubstr("model gru version 2 loaded (reload)"));
}

TEST_F(HotReloadTest, PollIntervalServesAVersionMovedIntoTheRepositoryWithoutASignal) {
  Start({"--model_poll_interval=100ms"});
  MoveInVersionTwo();
  EXPECT_THAT(VersionsOnceChanged(), ElementsAre(1, 2)) << server_->Log();
  ExpectOldSessionKeepsItsVersionAndNewSessionsTakeTheNewOne();
}

}  // namespace
}  // namespace rnnserve::server
