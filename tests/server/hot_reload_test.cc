// Model hot reload in a real build/bin/rnnserve process, as the README tells
// operators to do it: a new version folder written elsewhere and moved into
// the repository, then SIGHUP (or nothing, with --model_poll_interval). New
// sessions take the new version; a session already open keeps its own. A
// version whose folder is taken out takes no new session, serves the ones it
// has, and is unloaded once they end.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "glog/logging.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "rnnserve/v1/inference.grpc.pb.h"
#include "rnnserve/v1/models.grpc.pb.h"
#include "rnnserve/v1/sessions.grpc.pb.h"
#include "tests/common/http_get.h"
#include "tests/common/server_process.h"
#include "tests/model/test_util.h"
#include "tests/server/reference_steps.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::LoadSequences;
using ::rnnserve::model::testing::MakeTestRepository;
using ::rnnserve::model::testing::ReferenceSequence;
using ::rnnserve::model::testing::TestdataPath;
using ::rnnserve::testing::HttpGet;
using ::rnnserve::testing::ProcStatusBytes;
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

  // The versions of "gru" the server lists once they are not `before` any
  // more, or `before` after 30 s.
  std::vector<int64_t> VersionsOnceChanged(const std::vector<int64_t>& before = {1}) {
    auto models = v1::ModelService::NewStub(channel_);
    std::vector<int64_t> versions;
    for (const absl::Time give_up = absl::Now() + absl::Seconds(30); absl::Now() < give_up;) {
      grpc::ClientContext context;
      v1::ListModelsResponse response;
      EXPECT_TRUE(models->ListModels(&context, {}, &response).ok());
      versions.clear();
      for (const v1::ModelInfo& info : response.models()) {
        if (info.model().name() == "gru")
          versions.assign(info.versions().begin(), info.versions().end());
      }
      if (versions != before) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return versions;
  }

  // Whether the server's log holds `text` within 30 s.
  bool LogShowsWithin30s(const std::string& text) {
    for (const absl::Time give_up = absl::Now() + absl::Seconds(30); absl::Now() < give_up;) {
      if (server_->Log().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  grpc::Status EndSession(const std::string& id) {
    grpc::ClientContext context;
    v1::SessionRef session;
    session.set_session_id(id);
    v1::SessionInfo ended;
    return v1::SessionService::NewStub(channel_)->EndSession(&context, session, &ended);
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

TEST_F(HotReloadTest, AVersionTakenOutServesItsSessionsThenIsUnloaded) {
  Start({"--model_poll_interval=100ms"});
  MoveInVersionTwo();
  ASSERT_THAT(VersionsOnceChanged(), ElementsAre(1, 2)) << server_->Log();
  // Whether /metrics has a `family` series of gru at `version`.
  auto HasSeries = [&](absl::string_view family, int version) {
    const std::string metrics = HttpGet(server_->metrics_port(), "/metrics");
    for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
      if (absl::StartsWith(line, absl::StrCat(family, "{")) &&
          absl::StrContains(line, "model=\"gru\"") &&
          absl::StrContains(line, absl::StrCat("version=\"", version, "\""))) {
        return true;
      }
    }
    return false;
  };
  ASSERT_TRUE(HasSeries("rnnserve_model_info", 1));

  std::filesystem::remove_all(models_ + "/gru/1");
  EXPECT_THAT(VersionsOnceChanged({1, 2}), ElementsAre(2)) << server_->Log();
  EXPECT_TRUE(LogShowsWithin30s("model gru version 1 retired")) << server_->Log();
  // No new session on it...
  v1::StepRequest start_on_one = ReferenceStep("gru", "late", v1_, 0);
  start_on_one.mutable_model()->set_version(1);
  const grpc::Status refused = Step(start_on_one);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(refused.error_message(), ::testing::HasSubstr("retired"));
  // ...but the one it has goes on, with its outputs, and the version stays
  // loaded meanwhile.
  for (int64_t t = 1; t < 5; ++t) {
    ASSERT_TRUE(Step(ReferenceStep("gru", "old", v1_, t)).ok());
    EXPECT_EQ(response_.model().version(), 1);
    EXPECT_TRUE(MatchesReference(response_, v1_, t)) << "old session, step " << t;
  }
  EXPECT_THAT(server_->Log(), ::testing::Not(::testing::HasSubstr("version 1 unloaded")));

  // Its last session ends: the version is freed, and leaves the metrics.
  ASSERT_TRUE(EndSession("old").ok());
  EXPECT_TRUE(LogShowsWithin30s("model gru version 1 unloaded")) << server_->Log();
  EXPECT_FALSE(HasSeries("rnnserve_model_info", 1));
  EXPECT_FALSE(HasSeries("rnnserve_model_weight_bytes", 1));
  EXPECT_TRUE(HasSeries("rnnserve_model_info", 2));
  EXPECT_TRUE(HasSeries("rnnserve_steps_total", 1)) << "a counter is history: it stays";
  // Version 2 serves on.
  ASSERT_TRUE(Step(ReferenceStep("gru", "new", v2_, 0)).ok());
  EXPECT_EQ(response_.model().version(), 2);
}

TEST_F(HotReloadTest, ModelVersionsOneRetiresTheOldVersionWhenANewOneLoads) {
  Start({"--model_poll_interval=100ms", "--model_versions=1"});
  MoveInVersionTwo();
  EXPECT_THAT(VersionsOnceChanged(), ElementsAre(2)) << server_->Log();
  EXPECT_TRUE(LogShowsWithin30s("model gru version 1 retired")) << server_->Log();
  ExpectOldSessionKeepsItsVersionAndNewSessionsTakeTheNewOne();
  ASSERT_TRUE(EndSession("old").ok());
  EXPECT_TRUE(LogShowsWithin30s("model gru version 1 unloaded")) << server_->Log();
}

TEST(HotReloadFlagsTest, NegativeModelVersionsIsRefusedAtStart) {
  const std::string models =
      MakeTestRepository("negative_model_versions", {{"gru_2layer", "gru/1"}});
  absl::StatusOr<std::unique_ptr<ServerProcess>> started =
      ServerProcess::Start({"--models=" + models, "--model_versions=-1"});
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(started.status().message(), ::testing::HasSubstr("--model_versions"));
}

TEST(HotReloadMemoryTest, VersionsTakenOutGiveTheirMemoryBack) {
  // Twelve versions of charlm (1.97 MB of weights each); eleven go.
  constexpr int kVersions = 12;
  const std::string models = MakeTestRepository("unload_memory", {});
  for (int v = 1; v <= kVersions; ++v) {
    std::filesystem::create_directories(absl::StrCat(models, "/charlm"));
    std::filesystem::copy(absl::StrCat(RNNSERVE_SOURCE_DIR, "/models/charlm/1"),
                          absl::StrCat(models, "/charlm/", v));
  }
  absl::StatusOr<std::unique_ptr<ServerProcess>> server =
      ServerProcess::Start({"--models=" + models, "--idle_timeout=1s"});
  ASSERT_TRUE(server.ok()) << server.status();
  const int64_t before = ProcStatusBytes((*server)->pid(), "VmRSS:");
  for (int v = 1; v < kVersions; ++v)
    std::filesystem::remove_all(absl::StrCat(models, "/charlm/", v));
  (*server)->Signal(SIGHUP);
  bool unloaded = false;
  for (const absl::Time give_up = absl::Now() + absl::Seconds(30);
       !unloaded && absl::Now() < give_up; absl::SleepFor(absl::Milliseconds(50))) {
    const std::string log = (*server)->Log();
    unloaded = log.find("model charlm version 11 unloaded") != std::string::npos &&
               log.find("model charlm version 1 unloaded") != std::string::npos;
  }
  ASSERT_TRUE(unloaded) << (*server)->Log();
  absl::SleepFor(absl::Milliseconds(200));  // the trim follows the last log line
  const int64_t after = ProcStatusBytes((*server)->pid(), "VmRSS:");
  LOG(INFO) << "VmRSS " << before << " B with " << kVersions << " versions, " << after
            << " B after " << kVersions - 1 << " unloaded";
  // ASan's allocator keeps freed memory in quarantine on purpose.
#ifndef ABSL_HAVE_ADDRESS_SANITIZER
  EXPECT_LT(after, before - (kVersions - 1) * 1'000'000) << "less than half the weights given back";
#endif
  (*server)->Signal(SIGTERM);
  EXPECT_EQ((*server)->Wait(absl::Seconds(30)), 0);
}

}  // namespace
}  // namespace rnnserve::server
