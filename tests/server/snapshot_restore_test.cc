// What build/bin/rnnserve --snapshot=FILE does at start with a snapshot it
// cannot fully use: a broken file is moved aside to FILE.broken (logged, the
// server starts empty, the file kept for whoever wants it), and a session
// whose model is gone is skipped (logged) while the others are restored and
// continue with the reference outputs.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "rnnserve/v1/inference.grpc.pb.h"
#include "rnnserve/v1/sessions.grpc.pb.h"
#include "tests/common/server_process.h"
#include "tests/model/test_util.h"
#include "tests/server/reference_steps.h"
#include "util/file.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::LoadSequences;
using ::rnnserve::model::testing::MakeTestRepository;
using ::rnnserve::model::testing::ReferenceSequence;
using ::rnnserve::model::testing::TestdataPath;
using ::rnnserve::testing::ServerProcess;
using ::testing::HasSubstr;

class SnapshotRestoreTest : public ::testing::Test {
 protected:
  SnapshotRestoreTest() {
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    models_ = MakeTestRepository(name, {{"gru_2layer", "gru/1"}, {"lstm_1layer", "lstm/1"}});
    snapshot_ = absl::StrCat(::testing::TempDir(), name, getpid(), ".snap");
    std::filesystem::remove(snapshot_);
    std::filesystem::remove(snapshot_ + ".broken");
  }
  ~SnapshotRestoreTest() override {
    std::filesystem::remove(snapshot_);
    std::filesystem::remove(snapshot_ + ".broken");
  }

  void Start() {
    absl::StatusOr<std::unique_ptr<ServerProcess>> started =
        ServerProcess::Start({"--models=" + models_, "--snapshot=" + snapshot_});
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = *std::move(started);
    auto channel = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    inference_ = v1::InferenceService::NewStub(channel);
    sessions_ = v1::SessionService::NewStub(channel);
  }
  // SIGTERM: the server saves every session and exits 0.
  void Stop() {
    inference_.reset();  // an idle channel would hold up the graceful GOAWAY
    sessions_.reset();
    server_->Signal(SIGTERM);
    ASSERT_EQ(server_->Wait(absl::Seconds(30)), 0) << server_->Log();
  }

  // Steps [from, to) of `seq` for session `id` of `model`, each checked.
  void StepThrough(const std::string& model, const std::string& id, const ReferenceSequence& seq,
                   int64_t from, int64_t to) {
    for (int64_t t = from; t < to; ++t) {
      grpc::ClientContext context;
      v1::StepRequest request = ReferenceStep(model, id, seq, t);
      v1::StepResponse response;
      ASSERT_TRUE(inference_->Step(&context, request, &response).ok()) << id << " step " << t;
      ASSERT_TRUE(MatchesReference(response, seq, t)) << id << " step " << t;
    }
  }
  // DescribeSession's code for `id`.
  grpc::StatusCode Describe(const std::string& id) {
    grpc::ClientContext context;
    v1::SessionRef ref;
    ref.set_session_id(id);
    v1::SessionInfo info;
    return sessions_->DescribeSession(&context, ref, &info).error_code();
  }

  const ReferenceSequence gru_ = LoadSequences(TestdataPath("model/gru_2layer")).back();
  const ReferenceSequence lstm_ = LoadSequences(TestdataPath("model/lstm_1layer")).back();
  std::string models_;
  std::string snapshot_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<v1::InferenceService::Stub> inference_;
  std::unique_ptr<v1::SessionService::Stub> sessions_;
};

TEST_F(SnapshotRestoreTest, ATruncatedSnapshotIsMovedAsideAndTheServerStartsEmpty) {
  Start();
  StepThrough("gru", "g", gru_, 0, 3);
  Stop();
  // Cut the snapshot short, as a full disk or a copy gone wrong would.
  absl::StatusOr<std::string> whole = util::ReadFileToString(snapshot_);
  ASSERT_TRUE(whole.ok()) << whole.status();
  const std::string truncated = whole->substr(0, whole->size() / 2);
  std::ofstream(snapshot_, std::ios::binary | std::ios::trunc) << truncated;

  Start();
  EXPECT_THAT(server_->Log(),
              HasSubstr("session snapshot not restored, moved to " + snapshot_ + ".broken"));
  EXPECT_FALSE(std::filesystem::exists(snapshot_));
  absl::StatusOr<std::string> aside = util::ReadFileToString(snapshot_ + ".broken");
  ASSERT_TRUE(aside.ok()) << aside.status();
  EXPECT_EQ(*aside, truncated);
  EXPECT_EQ(Describe("g"), grpc::StatusCode::NOT_FOUND);
  StepThrough("gru", "fresh", gru_, 0, 2);  // it serves, from nothing
  Stop();
  // The next snapshot is a new file; the broken one stays as it was.
  EXPECT_TRUE(std::filesystem::exists(snapshot_));
  EXPECT_EQ(*util::ReadFileToString(snapshot_ + ".broken"), truncated);
}

TEST_F(SnapshotRestoreTest, ASessionWhoseModelIsGoneIsSkippedAndTheOthersContinue) {
  Start();
  StepThrough("gru", "g", gru_, 0, 5);
  StepThrough("lstm", "l", lstm_, 0, 4);
  Stop();
  std::filesystem::remove_all(models_ + "/lstm");  // the model is retired

  Start();
  const std::string log = server_->Log();
  EXPECT_THAT(log, HasSubstr("restored 1 sessions"));
  EXPECT_THAT(log, HasSubstr("; 1 skipped"));
  EXPECT_THAT(log, HasSubstr("skipped session \"l\": NOT_FOUND"));
  EXPECT_EQ(Describe("l"), grpc::StatusCode::NOT_FOUND);
  StepThrough("gru", "g", gru_, 5, 10);  // exactly where it was
  Stop();
}

}  // namespace
}  // namespace rnnserve::server
