#include "server/session_service.h"

#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/model/test_util.h"

namespace rnnserve::server {
namespace {

namespace pb = ::rnnserve::v1;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

// A repository with lstm/1 and gru/1 from the fixtures.
std::string MakeRepository() {
  return model::testing::MakeTestRepository(
      "session_service_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()),
      {{"lstm_1layer", "lstm/1"}, {"gru_1layer", "gru/1"}});
}

// The little-endian bytes of `values` (the test hosts are little-endian).
std::string Bytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4);
}

// One server replica: its own models, session store, service and server.
struct Replica {
  explicit Replica(const std::string& repository, std::atomic<int64_t>* now_ns) {
    absl::StatusOr<std::unique_ptr<ServedModels>> loaded = ServedModels::Load(repository, 100);
    CHECK(loaded.ok()) << loaded.status();
    models = *std::move(loaded);
    store = std::make_unique<SessionStore>(SessionStore::Options());
    service = std::make_unique<SessionServiceImpl>(
        store.get(), models.get(), [now_ns] { return absl::FromUnixNanos(now_ns->load()); });
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service.get());
    server = builder.BuildAndStart();
    CHECK(server != nullptr && port > 0);
    stub = pb::SessionService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }
  ~Replica() { server->Shutdown(); }

  // A session of `model_name` whose state is 0.5, 1.5, ... and has `steps`.
  void StartSession(const std::string& id, const std::string& model_name, int64_t steps,
                    absl::Time now) {
    const absl::StatusOr<SessionPtr> session =
        store->Start(id, (*models->Find(model_name, 0))->ref(), now);
    ASSERT_TRUE(session.ok()) << session.status();
    absl::MutexLock lock(&(*session)->mu());
    for (int64_t i = 0; i < (*session)->model().stack->state_size(); ++i) {
      (*session)->state()[i] = 0.5f + static_cast<float>(i);
    }
    (*session)->AddSteps(steps);
  }

  std::vector<float> StateOf(const std::string& id) {
    const absl::StatusOr<SessionPtr> session = store->Get(id, kT0);
    CHECK(session.ok()) << session.status();
    absl::MutexLock lock(&(*session)->mu());
    const float* state = (*session)->state();
    return std::vector<float>(state, state + (*session)->model().stack->state_size());
  }

  // Destroyed in reverse: server, service, then sessions, then their pools.
  std::unique_ptr<ServedModels> models;
  std::unique_ptr<SessionStore> store;
  std::unique_ptr<SessionServiceImpl> service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<pb::SessionService::Stub> stub;
};

class SessionServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repository_ = MakeRepository();
    replica_ = std::make_unique<Replica>(repository_, &now_ns_);
  }

  void Advance(absl::Duration d) { now_ns_ += absl::ToInt64Nanoseconds(d); }
  absl::Time Now() const { return absl::FromUnixNanos(now_ns_.load()); }

  static pb::SessionRef Ref(const std::string& id) {
    pb::SessionRef ref;
    ref.set_session_id(id);
    return ref;
  }

  grpc::Status Describe(Replica& r, const std::string& id, pb::SessionInfo* info) {
    grpc::ClientContext context;
    return r.stub->DescribeSession(&context, Ref(id), info);
  }
  grpc::Status End(Replica& r, const std::string& id, pb::SessionInfo* info) {
    grpc::ClientContext context;
    return r.stub->EndSession(&context, Ref(id), info);
  }
  grpc::Status Reset(Replica& r, const std::string& id, pb::SessionInfo* info) {
    grpc::ClientContext context;
    return r.stub->ResetSession(&context, Ref(id), info);
  }
  grpc::Status Export(Replica& r, const std::string& id, pb::SessionState* state) {
    grpc::ClientContext context;
    return r.stub->ExportState(&context, Ref(id), state);
  }
  grpc::Status Import(Replica& r, const pb::SessionState& state, pb::SessionInfo* info) {
    grpc::ClientContext context;
    return r.stub->ImportState(&context, state, info);
  }

  std::atomic<int64_t> now_ns_{absl::ToUnixNanos(kT0)};
  std::string repository_;
  std::unique_ptr<Replica> replica_;
};

TEST_F(SessionServiceTest, UnknownSessionIsNotFound) {
  pb::SessionInfo info;
  pb::SessionState state;
  for (const grpc::Status& status :
       {Describe(*replica_, "nobody", &info), End(*replica_, "nobody", &info),
        Reset(*replica_, "nobody", &info), Export(*replica_, "nobody", &state)}) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_THAT(status.error_message(), HasSubstr("nobody"));
  }
  EXPECT_EQ(replica_->store->size(), 0);  // Reset did not create it
}

TEST_F(SessionServiceTest, MalformedIdIsInvalidArgument) {
  pb::SessionInfo info;
  EXPECT_EQ(Describe(*replica_, "", &info).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  pb::SessionState state;
  state.set_session_id(std::string(SessionStore::kMaxIdBytes + 1, 'x'));
  EXPECT_EQ(Import(*replica_, state, &info).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SessionServiceTest, DescribesModelStepsAndIdleTime) {
  replica_->StartSession("a", "lstm", 7, Now());
  Advance(absl::Seconds(3));
  pb::SessionInfo info;
  ASSERT_TRUE(Describe(*replica_, "a", &info).ok());
  EXPECT_EQ(info.session_id(), "a");
  EXPECT_EQ(info.model().name(), "lstm");
  EXPECT_EQ(info.model().version(), 1);
  EXPECT_EQ(info.steps(), 7);
  EXPECT_DOUBLE_EQ(info.idle_seconds(), 3.0);
  // Describing is not using: the idle time keeps growing.
  Advance(absl::Seconds(2));
  ASSERT_TRUE(Describe(*replica_, "a", &info).ok());
  EXPECT_DOUBLE_EQ(info.idle_seconds(), 5.0);
}

TEST_F(SessionServiceTest, EndRemovesTheSession) {
  replica_->StartSession("a", "gru", 4, Now());
  pb::SessionInfo info;
  ASSERT_TRUE(End(*replica_, "a", &info).ok());
  EXPECT_EQ(info.model().name(), "gru");
  EXPECT_EQ(info.steps(), 4);
  EXPECT_EQ(replica_->store->size(), 0);
  EXPECT_EQ(Describe(*replica_, "a", &info).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(End(*replica_, "a", &info).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(SessionServiceTest, ResetZeroesStepsAndReinitialisesTheState) {
  replica_->StartSession("a", "lstm", 9, Now());
  const model::LayerStack& stack = *(*replica_->models->Find("lstm", 1))->loaded.stack;
  std::vector<float> initial(stack.state_size());
  stack.InitState(initial.data());
  ASSERT_THAT(replica_->StateOf("a"), ::testing::Not(ElementsAreArray(initial)));

  pb::SessionInfo info;
  ASSERT_TRUE(Reset(*replica_, "a", &info).ok());
  EXPECT_EQ(info.steps(), 0);
  EXPECT_EQ(info.model().name(), "lstm");
  EXPECT_EQ(info.model().version(), 1);
  EXPECT_THAT(replica_->StateOf("a"), ElementsAreArray(initial));
  ASSERT_TRUE(Describe(*replica_, "a", &info).ok());
  EXPECT_EQ(info.steps(), 0);
}

TEST_F(SessionServiceTest, ExportGivesTheStateAsLittleEndianFloats) {
  replica_->StartSession("a", "lstm", 5, Now());
  pb::SessionState state;
  ASSERT_TRUE(Export(*replica_, "a", &state).ok());
  const ServedModelPtr lstm = *replica_->models->Find("lstm", 1);
  EXPECT_EQ(state.session_id(), "a");
  EXPECT_EQ(state.model().name(), "lstm");
  EXPECT_EQ(state.model().version(), 1);
  EXPECT_EQ(state.fingerprint(), lstm->loaded.info.fingerprint);
  EXPECT_EQ(state.steps(), 5);
  ASSERT_EQ(static_cast<int64_t>(state.state().size()), lstm->loaded.stack->state_size() * 4);
  EXPECT_EQ(state.state(), Bytes(replica_->StateOf("a")));
}

TEST_F(SessionServiceTest, ExportThenImportMovesTheSessionToAnotherReplica) {
  replica_->StartSession("a", "gru", 12, Now());
  pb::SessionState exported;
  ASSERT_TRUE(Export(*replica_, "a", &exported).ok());

  Replica other(repository_, &now_ns_);
  pb::SessionInfo info;
  const grpc::Status status = Import(other, exported, &info);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(info.session_id(), "a");
  EXPECT_EQ(info.model().name(), "gru");
  EXPECT_EQ(info.model().version(), 1);
  EXPECT_EQ(info.steps(), 12);
  EXPECT_THAT(other.StateOf("a"), ElementsAreArray(replica_->StateOf("a")));

  pb::SessionState again;
  ASSERT_TRUE(Export(other, "a", &again).ok());
  EXPECT_EQ(again.SerializeAsString(), exported.SerializeAsString());
}

TEST_F(SessionServiceTest, ImportReplacesAnExistingSession) {
  replica_->StartSession("a", "lstm", 3, Now());
  pb::SessionState exported;
  ASSERT_TRUE(Export(*replica_, "a", &exported).ok());
  Replica other(repository_, &now_ns_);
  other.StartSession("a", "gru", 40, Now());
  pb::SessionInfo info;
  ASSERT_TRUE(Import(other, exported, &info).ok());
  EXPECT_EQ(info.model().name(), "lstm");
  EXPECT_EQ(info.steps(), 3);
  EXPECT_EQ(other.store->size(), 1);
  EXPECT_THAT(other.StateOf("a"), ElementsAreArray(replica_->StateOf("a")));
}

TEST_F(SessionServiceTest, ImportRefusesAnotherModelsFingerprint) {
  replica_->StartSession("a", "lstm", 3, Now());
  pb::SessionState exported;
  ASSERT_TRUE(Export(*replica_, "a", &exported).ok());
  exported.set_fingerprint("sha256:0123");
  exported.set_session_id("b");
  pb::SessionInfo info;
  const grpc::Status status = Import(*replica_, exported, &info);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("sha256:0123"));
  EXPECT_THAT(status.error_message(),
              HasSubstr((*replica_->models->Find("lstm", 1))->loaded.info.fingerprint));
  EXPECT_EQ(Describe(*replica_, "b", &info).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(SessionServiceTest, ImportRefusesWrongSizeOrNonFiniteValues) {
  replica_->StartSession("a", "lstm", 3, Now());
  pb::SessionState exported;
  ASSERT_TRUE(Export(*replica_, "a", &exported).ok());
  exported.set_session_id("b");
  pb::SessionInfo info;

  pb::SessionState short_state = exported;
  short_state.mutable_state()->resize(exported.state().size() - 4);
  grpc::Status status = Import(*replica_, short_state, &info);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr(absl::StrCat("expected ",
                                                             exported.state().size())));

  pb::SessionState nan_state = exported;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(nan_state.mutable_state()->data() + 4, &nan, 4);
  status = Import(*replica_, nan_state, &info);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("finite"));

  pb::SessionState negative_steps = exported;
  negative_steps.set_steps(-1);
  EXPECT_EQ(Import(*replica_, negative_steps, &info).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(replica_->store->size(), 1);  // nothing created
}

TEST_F(SessionServiceTest, ImportOfAnUnknownModelIsNotFound) {
  pb::SessionState state;
  state.set_session_id("a");
  state.mutable_model()->set_name("transformer");
  pb::SessionInfo info;
  EXPECT_EQ(Import(*replica_, state, &info).error_code(), grpc::StatusCode::NOT_FOUND);
  state.mutable_model()->set_name("");
  EXPECT_EQ(Import(*replica_, state, &info).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace rnnserve::server
