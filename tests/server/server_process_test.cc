// build/bin/rnnserve as a real process: a session exported from one server
// process continues in another, and SIGTERM under load answers every step
// the server accepted, ends the streams with UNAVAILABLE and exits 0.
#include "tests/common/server_process.h"

#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <optional>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "rnnserve/v1/inference.grpc.pb.h"
#include "rnnserve/v1/sessions.grpc.pb.h"
#include "tests/model/test_util.h"
#include "tests/server/reference_steps.h"
#include "util/file.h"
#include "util/proc_stat.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::LoadSequences;
using ::rnnserve::model::testing::MakeTestRepository;
using ::rnnserve::model::testing::ReferenceSequence;
using ::rnnserve::model::testing::TestdataPath;
using ::rnnserve::testing::ServerProcess;

std::string TestName() {
  return ::testing::UnitTest::GetInstance()->current_test_info()->name();
}

// A repository with the 2-layer GRU fixture as model "gru", and its
// 200-step reference sequence.
std::string Repository() { return MakeTestRepository(TestName(), {{"gru_2layer", "gru/1"}}); }
ReferenceSequence Sequence() { return LoadSequences(TestdataPath("model/gru_2layer")).back(); }

std::unique_ptr<ServerProcess> StartServer(const std::vector<std::string>& flags) {
  absl::StatusOr<std::unique_ptr<ServerProcess>> process = ServerProcess::Start(flags);
  CHECK(process.ok()) << process.status();
  return *std::move(process);
}

v1::StepRequest StepOf(const std::string& id, const ReferenceSequence& seq, int64_t t) {
  return ReferenceStep("gru", id, seq, t);
}

TEST(ServerProcessTest, SessionExportedFromOneProcessContinuesInAnother) {
  const std::string models = Repository();
  const ReferenceSequence seq = Sequence();
  std::unique_ptr<ServerProcess> first = StartServer({"--models=" + models});
  std::unique_ptr<ServerProcess> second = StartServer({"--models=" + models});
  auto first_inference = v1::InferenceService::NewStub(
      grpc::CreateChannel(first->address(), grpc::InsecureChannelCredentials()));
  auto first_sessions = v1::SessionService::NewStub(
      grpc::CreateChannel(first->address(), grpc::InsecureChannelCredentials()));
  auto second_channel = grpc::CreateChannel(second->address(), grpc::InsecureChannelCredentials());
  auto second_inference = v1::InferenceService::NewStub(second_channel);
  auto second_sessions = v1::SessionService::NewStub(second_channel);

  v1::StepResponse response;
  for (int64_t t = 0; t < 80; ++t) {
    grpc::ClientContext context;
    ASSERT_TRUE(first_inference->Step(&context, StepOf("traveller", seq, t), &response).ok());
  }
  v1::SessionRef ref;
  ref.set_session_id("traveller");
  v1::SessionState state;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(first_sessions->ExportState(&context, ref, &state).ok());
  }
  // The wire form is what travels between replicas (a file, a proxy).
  std::string bytes;
  ASSERT_TRUE(state.SerializeToString(&bytes));
  v1::SessionState arrived;
  ASSERT_TRUE(arrived.ParseFromString(bytes));
  {
    grpc::ClientContext context;
    v1::SessionInfo info;
    ASSERT_TRUE(second_sessions->ImportState(&context, arrived, &info).ok());
    EXPECT_EQ(info.steps(), 80);
  }
  for (int64_t t = 80; t < seq.steps(); ++t) {
    grpc::ClientContext context;
    ASSERT_TRUE(second_inference->Step(&context, StepOf("traveller", seq, t), &response).ok());
    ASSERT_TRUE(MatchesReference(response, seq, t)) << "step " << t;
  }
  // Idle channels would hold up the graceful GOAWAY: an idle C++ client
  // answers the server's ping only at its 5 s backup poll.
  first_inference.reset();
  first_sessions.reset();
  second_inference.reset();
  second_sessions.reset();
  second_channel.reset();
  first->Signal(SIGTERM);
  second->Signal(SIGTERM);
  EXPECT_EQ(first->Wait(absl::Seconds(30)), 0) << first->Log();
  EXPECT_EQ(second->Wait(absl::Seconds(30)), 0) << second->Log();
}

// A grpc.health.v1.Health/Watch stream on `service`, with hand-made bytes
// (no health stubs are generated here): the statuses the server sends.
class HealthWatch {
 public:
  HealthWatch(const std::shared_ptr<grpc::Channel>& channel, const std::string& service)
      : stub_(channel) {
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    call_ = stub_.PrepareCall(&context_, "/grpc.health.v1.Health/Watch", &cq_);
    call_->StartCall(Tag());
    Await();
    // HealthCheckRequest{service}: field 1, length-delimited.
    const std::string request =
        service.empty() ? "" : std::string{'\x0a', static_cast<char>(service.size())} + service;
    grpc::Slice slice(request);
    grpc::ByteBuffer buffer(&slice, 1);
    call_->Write(buffer, Tag());
    Await();
    call_->WritesDone(Tag());
    Await();
  }
  ~HealthWatch() {
    context_.TryCancel();
    grpc::Status status;
    call_->Finish(&status, Tag());
    Await();
  }

  // The next status sent (1 SERVING, 2 NOT_SERVING), or -1 once the stream
  // ended without one.
  int Next() {
    grpc::ByteBuffer buffer;
    call_->Read(&buffer, Tag());
    if (!Await()) return -1;
    std::vector<grpc::Slice> slices;
    if (!buffer.Dump(&slices).ok()) return -1;
    std::string bytes;
    for (const grpc::Slice& slice : slices) bytes.append(slice.begin(), slice.end());
    // HealthCheckResponse{status}: field 1, varint; absent means UNKNOWN (0).
    return bytes.size() == 2 && bytes[0] == '\x08' ? bytes[1] : 0;
  }

 private:
  void* Tag() { return reinterpret_cast<void*>(1); }
  bool Await() {
    void* tag;
    bool ok = false;
    cq_.Next(&tag, &ok);
    return ok;
  }

  grpc::GenericStub stub_;
  grpc::ClientContext context_;
  grpc::CompletionQueue cq_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
};

TEST(ServerProcessTest, SigtermTurnsHealthNotServingForTheServerAndEveryModel) {
  std::unique_ptr<ServerProcess> server =
      StartServer({"--models=" + Repository(), "--drain_timeout=2s"});
  {
    auto channel = grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials());
    HealthWatch whole(channel, "");
    HealthWatch gru(channel, "gru");
    constexpr int kServing = 1, kNotServing = 2;
    ASSERT_EQ(whole.Next(), kServing);
    ASSERT_EQ(gru.Next(), kServing);
    server->Signal(SIGTERM);
    // Probes watching (a load balancer) hear it before the server goes.
    EXPECT_EQ(whole.Next(), kNotServing);
    EXPECT_EQ(gru.Next(), kNotServing);
  }
  EXPECT_EQ(server->Wait(absl::Seconds(30)), 0) << server->Log();
}

// --metrics_listen= (empty) serves no metrics, as --http_listen= serves no
// HTTP: the server starts and steps.
TEST(ServerProcessTest, AnEmptyMetricsListenServesStepsWithoutMetrics) {
  std::unique_ptr<ServerProcess> server =
      StartServer({"--models=" + Repository(), "--metrics_listen=", "--drain_timeout=2s"});
  EXPECT_EQ(server->metrics_port(), 0);
  EXPECT_THAT(server->Log(), ::testing::HasSubstr("no /metrics listener"));
  const ReferenceSequence seq = Sequence();
  auto stub = v1::InferenceService::NewStub(
      grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::StepRequest request = StepOf("no-metrics", seq, 0);
  request.set_start(true);
  v1::StepResponse response;
  ASSERT_TRUE(stub->Step(&context, request, &response).ok()) << server->Log();
  EXPECT_TRUE(MatchesReference(response, seq, 0));
  server->Signal(SIGTERM);
  EXPECT_EQ(server->Wait(absl::Seconds(30)), 0) << server->Log();
}

// The scheduling policy of each of process `pid`'s threads, by thread name:
// proc(5)'s field 41 of /proc/PID/task/TID/stat.
std::multimap<std::string, int> ThreadPolicies(pid_t pid) {
  constexpr int kPolicy = 41 - util::kFirstProcStatField;
  std::multimap<std::string, int> policies;
  const std::string tasks = absl::StrCat("/proc/", pid, "/task");
  absl::StatusOr<std::vector<util::DirectoryEntry>> threads = util::ListVisibleEntries(tasks);
  CHECK(threads.ok()) << threads.status();
  for (const util::DirectoryEntry& thread : *threads) {
    absl::StatusOr<std::string> stat =
        util::ReadFileToString(absl::StrCat(tasks, "/", thread.name, "/stat"));
    if (!stat.ok()) continue;  // the thread ended since the listing
    const size_t name_begin = stat->find('(') + 1;
    const std::string name = stat->substr(name_begin, stat->rfind(')') - name_begin);
    const std::vector<std::string> fields = util::ProcStatFields(*stat);
    int policy = -1;
    CHECK(fields.size() > kPolicy && absl::SimpleAtoi(fields[kPolicy], &policy)) << *stat;
    policies.emplace(name, policy);
  }
  return policies;
}

// Every thread, gRPC's, the workers, the HTTP and metrics servers', is
// started after main sets the policy, and so inherits it; without the flag
// (the default) they keep the policy the server was started with, this
// test's own.
TEST(ServerProcessTest, EveryThreadRunsUnderSchedBatchOnlyWhenAskedTo) {
  const int inherited = sched_getscheduler(0);
  for (const bool batch : {true, false}) {
    SCOPED_TRACE(batch);
    std::vector<std::string> flags = {"--models=" + Repository(), "--http_listen=127.0.0.1:0",
                                      "--workers=2"};
    if (batch) flags.push_back("--sched_batch");
    std::unique_ptr<ServerProcess> server = StartServer(flags);
    const std::multimap<std::string, int> policies = ThreadPolicies(server->pid());
    EXPECT_GT(policies.size(), 5u);
    const int want = batch ? SCHED_BATCH : inherited;
    for (const auto& [name, policy] : policies) {
      EXPECT_EQ(policy, want) << "thread " << name;
    }
    EXPECT_THAT(server->Log(), ::testing::Not(::testing::HasSubstr("keeping the scheduling")));
    server->Signal(SIGTERM);
    EXPECT_EQ(server->Wait(absl::Seconds(30)), 0) << server->Log();
  }
}

// One client stream in lockstep (write a step, read its answer), cycling its
// own sessions through the reference sequence until the server ends the
// stream. Every answer is checked against the reference.
struct StreamResult {
  int64_t answered = 0;   // responses that matched the reference
  int64_t wrong = 0;      // responses that did not
  grpc::Status status;
};

StreamResult RunStream(v1::InferenceService::Stub& stub, const ReferenceSequence& seq, int stream,
                       int64_t max_steps, std::atomic<int64_t>& answered_everywhere) {
  StreamResult result;
  grpc::ClientContext context;
  auto call = stub.StreamSteps(&context);
  constexpr int kSessionsPerStream = 4;
  std::vector<int64_t> next_step(kSessionsPerStream, 0);
  for (int64_t i = 0; i < max_steps; ++i) {
    const int session = static_cast<int>(i % kSessionsPerStream);
    const int64_t t = next_step[session];
    const std::string id = absl::StrCat("s", stream, "_", session);
    if (!call->Write(StepOf(id, seq, t))) break;
    v1::StepResponse response;
    if (!call->Read(&response)) break;
    if (MatchesReference(response, seq, t)) {
      ++result.answered;
      answered_everywhere.fetch_add(1);
    } else {
      ++result.wrong;
    }
    next_step[session] = (t + 1) % seq.steps();
  }
  call->WritesDone();
  result.status = call->Finish();
  return result;
}

TEST(ServerProcessTest, SigtermUnderLoadAnswersEveryAcceptedStepAndExitsZero) {
  const ReferenceSequence seq = Sequence();
  std::unique_ptr<ServerProcess> server = StartServer({"--models=" + Repository()});
  auto stub = v1::InferenceService::NewStub(
      grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials()));

  constexpr int kStreams = 8;
  constexpr int64_t kMaxStepsPerStream = 200'000;  // bounds the test if SIGTERM is ignored
  std::atomic<int64_t> answered{0};
  std::vector<StreamResult> results(kStreams);
  std::vector<std::thread> clients;
  for (int s = 0; s < kStreams; ++s) {
    clients.emplace_back([&, s] { results[s] = RunStream(*stub, seq, s, kMaxStepsPerStream, answered); });
  }
  // SIGTERM once every stream is in full flow.
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (answered.load() < 2000 && absl::Now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  server->Signal(SIGTERM);
  for (std::thread& t : clients) t.join();
  const int exit_code = server->Wait(absl::Seconds(60));
  const std::string log = server->Log();
  ASSERT_EQ(exit_code, 0) << log;

  int64_t total = 0;
  for (int s = 0; s < kStreams; ++s) {
    EXPECT_EQ(results[s].wrong, 0) << "stream " << s;
    EXPECT_EQ(results[s].status.error_code(), grpc::StatusCode::UNAVAILABLE)
        << "stream " << s << ": " << results[s].status.error_message();
    EXPECT_LT(results[s].answered, kMaxStepsPerStream) << "stream " << s << " never drained";
    total += results[s].answered;
  }
  // The server computed exactly the steps the clients got answers for: no
  // step was applied without its response reaching the client.
  const std::string marker = "sessions were live; ";
  const size_t at = log.find(marker);
  ASSERT_NE(at, std::string::npos) << log;
  int64_t computed = -1;
  ASSERT_TRUE(absl::SimpleAtoi(
      log.substr(at + marker.size(), log.find(' ', at + marker.size()) - at - marker.size()),
      &computed))
      << log;
  EXPECT_EQ(computed, total) << log;
  EXPECT_GE(total, 2000);
}

// Sessions stepped one unary call at a time from a few client threads, each
// session through the reference sequence; records how many steps of each
// the server answered.
class SessionLoad {
 public:
  SessionLoad(const std::string& address, const ReferenceSequence& seq, int sessions)
      : stub_(v1::InferenceService::NewStub(
            grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))),
        seq_(seq),
        answered_(sessions) {}

  // Runs until every session is at the end of the sequence or the server
  // stops answering; then closes its channel (an idle open channel would
  // hold up the server's graceful GOAWAY). Once.
  void Run(int threads) {
    std::vector<std::thread> clients;
    for (int c = 0; c < threads; ++c) {
      clients.emplace_back([this, c, threads] {
        for (bool progress = true; progress;) {
          progress = false;
          for (size_t i = c; i < answered_.size(); i += threads) {
            const int64_t t = answered_[i].load();
            if (t >= seq_.steps()) continue;
            grpc::ClientContext context;
            context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
            v1::StepResponse response;
            const grpc::Status status = stub_->Step(&context, StepOf(Id(i), seq_, t), &response);
            if (!status.ok()) return;  // the server is going or gone
            ASSERT_TRUE(MatchesReference(response, seq_, t)) << Id(i);
            answered_[i].store(t + 1);
            total_.fetch_add(1);
            progress = true;
          }
        }
      });
    }
    for (std::thread& t : clients) t.join();
    stub_.reset();
  }

  static std::string Id(size_t i) { return absl::StrCat("durable-", i); }
  int64_t total() const { return total_.load(); }
  int sessions() const { return static_cast<int>(answered_.size()); }
  // The steps of session `i` answered so far; any thread may ask.
  int64_t answered(int i) const { return answered_[i].load(); }

 private:
  std::unique_ptr<v1::InferenceService::Stub> stub_;
  const ReferenceSequence& seq_;
  std::vector<std::atomic<int64_t>> answered_;  // per session; each written by one thread
  std::atomic<int64_t> total_{0};
};

// The steps session `id` has on the server at `address` (-1: NOT_FOUND),
// after checking it continues from there with the reference outputs.
int64_t ContinueSession(const std::string& address, const std::string& id,
                        const ReferenceSequence& seq) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto sessions = v1::SessionService::NewStub(channel);
  auto inference = v1::InferenceService::NewStub(channel);
  v1::SessionRef ref;
  ref.set_session_id(id);
  v1::SessionInfo info;
  grpc::ClientContext context;
  const grpc::Status status = sessions->DescribeSession(&context, ref, &info);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return -1;
  EXPECT_TRUE(status.ok()) << status.error_message();
  for (int64_t t = info.steps(); t < seq.steps(); ++t) {
    grpc::ClientContext step_context;
    v1::StepRequest request = StepOf(id, seq, t);
    request.set_start(false);
    v1::StepResponse response;
    EXPECT_TRUE(inference->Step(&step_context, request, &response).ok());
    EXPECT_TRUE(MatchesReference(response, seq, t)) << id << " step " << t;
  }
  return info.steps();
}

TEST(ServerProcessTest, SigtermUnderLoadSavesEverySessionAndARestartContinuesThem) {
  const std::string models = Repository();
  const std::string snapshot = absl::StrCat(::testing::TempDir(), TestName(), getpid(), ".snap");
  std::remove(snapshot.c_str());
  const ReferenceSequence seq = Sequence();
  constexpr int kSessions = 64;
  std::unique_ptr<ServerProcess> server =
      StartServer({"--models=" + models, "--snapshot=" + snapshot});
  SessionLoad load(server->address(), seq, kSessions);
  std::thread stopper([&] {
    const absl::Time give_up = absl::Now() + absl::Seconds(60);
    while (load.total() < 3000 && absl::Now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    server->Signal(SIGTERM);
  });
  load.Run(4);
  stopper.join();
  ASSERT_EQ(server->Wait(absl::Seconds(60)), 0) << server->Log();
  EXPECT_THAT(server->Log(), ::testing::HasSubstr(absl::StrCat("saved ", kSessions, " sessions")));

  std::unique_ptr<ServerProcess> restarted =
      StartServer({"--models=" + models, "--snapshot=" + snapshot});
  EXPECT_THAT(restarted->Log(),
              ::testing::HasSubstr(absl::StrCat("restored ", kSessions, " sessions")));
  int64_t lost = 0;
  for (int i = 0; i < kSessions; ++i) {
    const int64_t steps = ContinueSession(restarted->address(), SessionLoad::Id(i), seq);
    EXPECT_EQ(steps, load.answered(i)) << SessionLoad::Id(i);
    lost += load.answered(i) - steps;
  }
  EXPECT_EQ(lost, 0);
  LOG(INFO) << "SIGTERM restart: " << kSessions << " sessions, " << load.total()
            << " steps answered before the signal, " << lost << " lost";
  std::remove(snapshot.c_str());
}

// Watches a periodic snapshot file while a SessionLoad runs: each time, it
// first reads how many steps of every session the clients have seen
// answered, then which snapshot file is in place (renames replace it, so a
// new inode or mtime is a new snapshot). Snapshots are written one after
// another, each collecting the sessions after the one before was renamed
// into place. So if an observation saw snapshot k, every step it counted was
// answered before snapshot k + 1 was renamed into place, hence before
// snapshot k + 2 began: snapshot k + 2 and every later one hold those steps.
class SnapshotWatcher {
 public:
  SnapshotWatcher(std::string path, const SessionLoad& load)
      : path_(std::move(path)), load_(load), thread_([this] { Watch(); }) {}
  ~SnapshotWatcher() { Stop(); }

  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  // How many different snapshots it has seen so far.
  int snapshots_seen() const { return snapshots_seen_.load(); }

  // After Stop(): the step counts every session must have in the snapshot
  // now at path_ (at least), or nullopt if no observation is old enough.
  std::optional<std::vector<int64_t>> StepsSurelyIn() const {
    const std::optional<Identity> last = IdentityOf(path_);
    if (!last) return std::nullopt;
    auto it = std::find(snapshots_.begin(), snapshots_.end(), *last);
    const int last_index = static_cast<int>(it - snapshots_.begin());  // size(): unseen
    std::optional<std::vector<int64_t>> floor;
    for (const auto& [snapshot, answered] : latest_) {
      if (snapshot <= last_index - 2) floor = answered;  // in order: the latest wins
    }
    return floor;
  }

 private:
  using Identity = std::pair<ino_t, int64_t>;  // inode, mtime in ns

  static std::optional<Identity> IdentityOf(const std::string& path) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return std::nullopt;
    return Identity(st.st_ino, st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec);
  }

  void Watch() {
    while (!stop_.load()) {
      std::vector<int64_t> answered;
      for (int i = 0; i < load_.sessions(); ++i) answered.push_back(load_.answered(i));
      const std::optional<Identity> now = IdentityOf(path_);
      if (now && (snapshots_.empty() || snapshots_.back() != *now)) snapshots_.push_back(*now);
      // -1: no snapshot yet.
      latest_[static_cast<int>(snapshots_.size()) - 1] = std::move(answered);
      snapshots_seen_.store(static_cast<int>(snapshots_.size()));
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  const std::string path_;
  const SessionLoad& load_;
  std::vector<Identity> snapshots_;  // in the order seen; the watcher's until Stop()
  // Per snapshot seen (-1: none yet), the counts of its latest observation.
  std::map<int, std::vector<int64_t>> latest_;
  std::atomic<int> snapshots_seen_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(ServerProcessTest, KillNineLosesAtMostTheStepsSinceTheLastPeriodicSnapshot) {
  const std::string models = Repository();
  const std::string snapshot = absl::StrCat(::testing::TempDir(), TestName(), getpid(), ".snap");
  std::remove(snapshot.c_str());
  const ReferenceSequence seq = Sequence();
  constexpr int kSessions = 64;
  std::unique_ptr<ServerProcess> server = StartServer(
      {"--models=" + models, "--snapshot=" + snapshot, "--snapshot_interval=100ms"});
  SessionLoad load(server->address(), seq, kSessions);
  SnapshotWatcher watcher(snapshot, load);
  std::thread killer([&] {
    // Under load, with a few periodic snapshots written.
    const absl::Time give_up = absl::Now() + absl::Seconds(60);
    while ((load.total() < 3000 || watcher.snapshots_seen() < 4) && absl::Now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    server->Signal(SIGKILL);
  });
  load.Run(4);
  killer.join();
  ASSERT_EQ(server->Wait(absl::Seconds(60)), 128 + SIGKILL);
  watcher.Stop();
  EXPECT_GE(watcher.snapshots_seen(), 4) << "periodic snapshots stopped during the load";
  const std::optional<std::vector<int64_t>> surely_saved = watcher.StepsSurelyIn();
  ASSERT_TRUE(surely_saved.has_value()) << "no snapshot was written while the load ran";

  std::unique_ptr<ServerProcess> restarted =
      StartServer({"--models=" + models, "--snapshot=" + snapshot});
  // Each session comes back exactly as it was in the last periodic snapshot:
  // never ahead of what its client saw answered, no older than that snapshot
  // (it holds every step answered before the snapshot two before it was in
  // place, about one interval earlier), and continuing from there with the
  // reference outputs. A session started after it is NOT_FOUND (-1).
  int survived = 0;
  int64_t lost = 0;
  for (int i = 0; i < kSessions; ++i) {
    const int64_t steps = ContinueSession(restarted->address(), SessionLoad::Id(i), seq);
    EXPECT_LE(steps, load.answered(i)) << SessionLoad::Id(i) << " is ahead of its client";
    EXPECT_GE(steps, (*surely_saved)[i]) << SessionLoad::Id(i) << " is older than the snapshot";
    if (steps >= 0) ++survived;
    lost += load.answered(i) - std::max<int64_t>(steps, 0);
  }
  LOG(INFO) << "kill -9 with --snapshot_interval=100ms: " << survived << " of " << kSessions
            << " sessions survived; " << lost << " of " << load.total()
            << " answered steps lost (taken after the last snapshot)";
  std::remove(snapshot.c_str());
}

}  // namespace
}  // namespace rnnserve::server
