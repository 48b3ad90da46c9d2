// Sessions that survive the cluster (issue 13), for real: a redis-server on
// a free loopback port, nginx with the shipped deploy/proxy/nginx.conf (its
// upstream rewritten and reloaded as replicas come and go), and three to five
// rnnserve processes started with --session_store and a short
// --checkpoint_interval. 300 sessions stream through nginx by the client
// protocol (SessionLoad: expected_session_steps, resend on ABORTED), every
// answer checked against a single server's RunSequence (1e-5), while
// replicas scale up, scale down, crash, restart one by one, Redis goes away,
// or a replica is frozen while its sessions move. What each event may cost
// (nothing for the graceful ones; at most the steps after the last
// checkpoint the client heard of for a crash) is asserted from what the
// clients saw; where the sessions live afterwards from the replicas'
// metrics and a DescribeSession through the proxy.
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/bench/metrics_scraper.h"
#include "client/channel.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "rnnserve/v1/sessions.grpc.pb.h"
#include "tests/common/program_run.h"
#include "tests/common/redis_server.h"
#include "tests/common/server_process.h"
#include "tests/deploy/nginx_proxy.h"
#include "tests/deploy/session_load.h"

namespace rnnserve::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int kSessions = 300;
constexpr int kUntil = 40;  // steps per session at least, in every scenario
constexpr char kInterval[] = "200ms";
constexpr absl::Duration kCheckpointInterval = absl::Milliseconds(200);

std::string Models() { return std::string(RNNSERVE_SOURCE_DIR) + "/models"; }

// Counts and failures of a load, printed with every assertion on them.
std::string Describe(const SessionLoad& load) {
  const LoadCounts c = load.Counts();
  std::string text = absl::StrCat(
      "answers ", c.answers, " (new ", c.new_steps, ", resent ", c.resent_steps, "), aborted ",
      c.aborted, ", lost steps ", c.lost_steps, " (at most ", c.max_lost, " at once), restarts ",
      c.restarts, ", NOT_FOUND ", c.not_found, ", moved ", c.moved, ", broken streams ",
      c.broken_streams, ", streams opened ", c.opens);
  for (const auto& [status, count] : load.BrokenStreamsByStatus()) {
    absl::StrAppend(&text, "\n  stream ended ", status, ": ", count);
  }
  const std::vector<std::string> events = load.Events();
  for (size_t e = 0; e < events.size() && e < 30; ++e) absl::StrAppend(&text, "\n  ", events[e]);
  if (events.size() > 30) absl::StrAppend(&text, "\n  ... ", events.size() - 30, " more");
  return text;
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!NginxProxy::Installed()) {
      GTEST_SKIP() << "nginx is not installed (apt-get install nginx; scripts/install_deps.sh "
                      "does it)";
    }
    if (!std::filesystem::exists("/usr/bin/redis-server")) {
      GTEST_SKIP() << "redis-server is not installed (apt-get install redis-server; "
                      "scripts/install_deps.sh does it)";
    }
    absl::StatusOr<std::unique_ptr<RedisServer>> redis = RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
    proxy_port_ = UnusedPort();
  }

  void TearDown() override {
    // A replica stopped by a scenario must not outlive it frozen.
    for (auto& replica : replicas_) {
      if (replica != nullptr) replica->Signal(SIGCONT);
    }
  }

  // A replica as deploy/ runs one with a session store: when it stops, it
  // releases its sessions' final checkpoints in the store (no --handoff_to).
  std::vector<std::string> ReplicaFlags() const {
    return {"--models=" + Models(), "--drain_timeout=60s", "--session_store=" + redis_->url(),
            absl::StrCat("--checkpoint_interval=", kInterval)};
  }

  // Starts one more replica (not yet behind the proxy); its index.
  int StartReplica() {
    absl::StatusOr<std::unique_ptr<ServerProcess>> replica = ServerProcess::Start(ReplicaFlags());
    EXPECT_TRUE(replica.ok()) << replica.status();
    if (!replica.ok()) return -1;
    replicas_.push_back(*std::move(replica));
    return static_cast<int>(replicas_.size()) - 1;
  }

  // `n` replicas behind nginx.
  void StartFleet(int n) {
    for (int r = 0; r < n; ++r) ASSERT_GE(StartReplica(), 0);
    absl::StatusOr<std::unique_ptr<NginxProxy>> proxy = NginxProxy::Start(proxy_port_, Ports());
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = *std::move(proxy);
    // As rnnserve-cli makes it (no gRPC retries: client/channel.cc says why).
    channel_ = client::MakeChannel(client::Connection{.server = proxy_->address()});
    ASSERT_TRUE(channel_->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(30))))
        << proxy_->Log();
  }

  // The ports of the replicas in the upstream: running, not `except`.
  std::vector<int> Ports(int except = -1) const {
    std::vector<int> ports;
    for (int r = 0; r < static_cast<int>(replicas_.size()); ++r) {
      if (replicas_[r] != nullptr && r != except) ports.push_back(replicas_[r]->port());
    }
    return ports;
  }

  // The upstream rewritten to the running replicas but `except`, reloaded.
  void Reload(int except = -1) {
    const absl::Status reloaded = proxy_->SetReplicas(Ports(except));
    EXPECT_TRUE(reloaded.ok()) << reloaded;
  }

  // Sessions with inputs and reference outputs from a server of their own.
  std::unique_ptr<SessionLoad> MakeLoad(LoadOptions options) {
    options.sessions = kSessions;
    absl::StatusOr<std::unique_ptr<ServerProcess>> single =
        ServerProcess::Start({"--models=" + Models()});
    EXPECT_TRUE(single.ok()) << single.status();
    if (!single.ok()) return nullptr;
    absl::StatusOr<std::unique_ptr<SessionLoad>> load = SessionLoad::Create(
        options, grpc::CreateChannel((*single)->address(), grpc::InsecureChannelCredentials()));
    EXPECT_TRUE(load.ok()) << load.status();
    (*single)->Signal(SIGTERM);
    (*single)->Wait(absl::Seconds(30));
    return load.ok() ? *std::move(load) : nullptr;
  }

  static std::string LastLines(const std::string& text, int lines) {
    size_t start = text.size();
    for (int n = 0; n <= lines && start > 0; ++n) start = text.rfind('\n', start - 1);
    return start == std::string::npos ? text : text.substr(start + 1);
  }

  absl::StatusOr<std::string> MetricsPage(int replica) const {
    return client::bench::FetchMetrics(
        absl::StrCat("127.0.0.1:", replicas_[replica]->metrics_port()), absl::Seconds(10));
  }

  // A sample of replica `replica` (summed over its label sets); -1 when the
  // page or the sample is missing (a failure).
  double Metric(int replica, const std::string& name) const {
    absl::StatusOr<std::string> page = MetricsPage(replica);
    // A replica that cannot be scraped may have died: its last words.
    EXPECT_TRUE(page.ok()) << page.status() << "\nreplica " << replica << " logged, last:\n"
                           << LastLines(replicas_[replica]->Log(), 20);
    if (!page.ok()) return -1;
    absl::StatusOr<double> value = client::bench::MetricValue(*page, name);
    EXPECT_TRUE(value.ok()) << "replica " << replica << ": " << value.status();
    return value.ok() ? *value : -1;
  }

  // One labelled sample, e.g. Labelled(r, "rnnserve_session_pulls_total",
  // "source=\"peer\""); 0 when that label set has no sample yet.
  double Labelled(int replica, const std::string& name, const std::string& labels) const {
    absl::StatusOr<std::string> page = MetricsPage(replica);
    // A replica that cannot be scraped may have died: its last words.
    EXPECT_TRUE(page.ok()) << page.status() << "\nreplica " << replica << " logged, last:\n"
                           << LastLines(replicas_[replica]->Log(), 20);
    if (!page.ok()) return -1;
    const std::string prefix = absl::StrCat(name, "{", labels, "} ");
    for (absl::string_view line : absl::StrSplit(*page, '\n')) {
      double value = 0;
      if (absl::StartsWith(line, prefix) &&
          absl::SimpleAtod(absl::StripAsciiWhitespace(line.substr(prefix.size())), &value)) {
        return value;
      }
    }
    return 0;
  }

  double SumOverReplicas(const std::string& name) const {
    double sum = 0;
    for (int r = 0; r < static_cast<int>(replicas_.size()); ++r) {
      if (replicas_[r] != nullptr) sum += Metric(r, name);
    }
    return sum;
  }

  // The running replica that holds the most sessions now.
  int Busiest() const {
    int busiest = -1;
    double most = -1;
    for (int r = 0; r < static_cast<int>(replicas_.size()); ++r) {
      if (replicas_[r] == nullptr) continue;
      const double held = Metric(r, "rnnserve_active_sessions");
      if (held > most) {
        most = held;
        busiest = r;
      }
    }
    return busiest;
  }

  // Waits (bounded) until `metric` of every running replica (but `except`)
  // satisfies `ok`; whether it did.
  bool WaitForEveryReplica(const std::string& metric, const std::function<bool(double)>& ok,
                           absl::Duration timeout, int except = -1) const {
    const absl::Time give_up = absl::Now() + timeout;
    while (true) {
      bool all = true;
      for (int r = 0; r < static_cast<int>(replicas_.size()) && all; ++r) {
        if (replicas_[r] != nullptr && r != except) all = ok(Metric(r, metric));
      }
      if (all) return true;
      if (absl::Now() > give_up) return false;
      absl::SleepFor(absl::Milliseconds(50));
    }
  }

  // After the load: every session is held by exactly one running replica,
  // the one the proxy's ring sends it to, with every step its client has
  // answers for. DescribeSession through the proxy reaches the ring's
  // replica; had that one not held the session it would have pulled it (a
  // pull counted in rnnserve_session_pulls_total), so no pull during the
  // probe means each session was where the ring says. The replicas' live
  // sessions then add up to the sessions exactly: no second copy anywhere
  // (a copy another replica holds must be gone within a few checkpoint
  // intervals, e.g. a frozen replica's once it runs again).
  void ExpectEachSessionOnExactlyOneReplica(const SessionLoad& load) {
    // Per replica, so that a pull names the session that caused it.
    auto pulls = [this] {
      std::vector<double> per_replica(replicas_.size(), 0);
      for (int r = 0; r < static_cast<int>(replicas_.size()); ++r) {
        if (replicas_[r] != nullptr) per_replica[r] = Metric(r, "rnnserve_session_pulls_total");
      }
      return per_replica;
    };
    auto sessions = v1::SessionService::NewStub(channel_);
    int wrong = 0;
    std::vector<std::string> off_ring;
    std::vector<double> before = pulls();
    for (int i = 0; i < load.sessions(); ++i) {
      v1::SessionRef ref;
      ref.set_session_id(load.id(i));
      v1::SessionInfo info;
      grpc::ClientContext context;
      context.AddMetadata("x-session-id", load.id(i));
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
      const grpc::Status status = sessions->DescribeSession(&context, ref, &info);
      if (!status.ok() || info.steps() != load.answered(i)) {
        if (++wrong <= 10) {
          ADD_FAILURE() << load.id(i) << ": DescribeSession " << status.error_code() << " "
                        << status.error_message() << ", steps " << info.steps() << ", want "
                        << load.answered(i);
        }
      }
      const std::vector<double> after = pulls();
      for (size_t r = 0; r < after.size(); ++r) {
        if (after[r] != before[r]) {
          off_ring.push_back(load.id(i));
          ADD_FAILURE() << load.id(i) << " was not on the replica the proxy sends it to: replica "
                        << r << " (:" << replicas_[r]->port() << ") pulled it";
        }
      }
      before = after;
    }
    EXPECT_EQ(wrong, 0);
    EXPECT_THAT(off_ring, IsEmpty())
        << "what the replicas logged about them:" << LogsAbout(off_ring);
    const absl::Time give_up = absl::Now() + 20 * kCheckpointInterval;
    double held = 0;
    while ((held = SumOverReplicas("rnnserve_active_sessions")) != load.sessions() &&
           absl::Now() < give_up) {
      absl::SleepFor(kCheckpointInterval / 2);
    }
    std::string per_replica;
    for (int r = 0; r < static_cast<int>(replicas_.size()); ++r) {
      if (replicas_[r] != nullptr) {
        absl::StrAppend(&per_replica, " ", Metric(r, "rnnserve_active_sessions"));
      }
    }
    EXPECT_EQ(held, load.sessions()) << "live sessions per replica:" << per_replica;
    std::cout << "sessions per replica:" << per_replica << "\n";
  }

  // Waits for `answers` more answers than now, failing after 60 s.
  static void WaitForMore(const SessionLoad& load, int64_t answers) {
    EXPECT_TRUE(load.WaitForAnswers(load.Counts().answers + answers, absl::Seconds(60)))
        << Describe(load);
  }

  // In a graceful event no replica finds its copy of a session stale.
  void ExpectNoneFenced() const {
    for (int r = 0; r < static_cast<int>(replicas_.size()); ++r) {
      if (replicas_[r] == nullptr) continue;
      EXPECT_EQ(Metric(r, "rnnserve_sessions_fenced_total"), 0)
          << "replica " << r << " :" << replicas_[r]->port();
    }
  }

  // The graceful events' promise: no step lost, repeated or failed.
  void ExpectNothingLost(const SessionLoad& load) const {
    const LoadCounts c = load.Counts();
    if (c.not_found + c.aborted + c.restarts > 0) {
      ADD_FAILURE() << "what the replicas logged about those sessions:" << LogsAbout(load);
    }
    EXPECT_EQ(c.not_found, 0) << Describe(load);
    EXPECT_EQ(c.aborted, 0) << Describe(load);
    EXPECT_EQ(c.lost_steps, 0) << Describe(load);
    EXPECT_EQ(c.restarts, 0) << Describe(load);
    EXPECT_EQ(c.resent_steps, 0) << Describe(load);
  }

  // The session records in Redis (keys rnnserve:s:*), by redis-cli.
  int SessionRecords() const {
    const ProgramResult run = RunProgram({"/usr/bin/redis-cli", "-p", absl::StrCat(redis_->port()),
                                          "--scan", "--pattern", "rnnserve:s:*"},
                                         "", absl::Seconds(20));
    EXPECT_EQ(run.exit_code, 0) << run.err;
    const std::vector<absl::string_view> keys = absl::StrSplit(run.out, '\n', absl::SkipEmpty());
    return static_cast<int>(keys.size());
  }

  // A replica that exited leaves the fleet; its log stays for LogsAbout().
  void Retire(int r) { retired_.push_back(std::move(replicas_[r])); }

  // The replicas' log lines about the sessions of `load`'s events, to tell
  // what the servers did when a client had to resend.
  std::string LogsAbout(const SessionLoad& load) const {
    std::vector<std::string> ids;
    for (const std::string& event : load.Events()) {
      const std::vector<std::string> words = absl::StrSplit(event, ' ');
      if (words.size() > 1) ids.push_back(std::string(absl::StripSuffix(words[1], ":")));
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    return LogsAbout(ids);
  }
  // The proxy's access log lines of those sessions' calls and streams (the
  // replica that served each, when it ended, its status), the last 12 each.
  std::string ProxyLogAbout(const std::vector<std::string>& ids) const {
    const std::string log = proxy_->AccessLog();
    std::string text;
    for (const std::string& id : ids) {
      std::vector<absl::string_view> lines;
      for (absl::string_view line : absl::StrSplit(log, '\n')) {
        if (absl::StrContains(line, absl::StrCat("session=", id, " "))) lines.push_back(line);
      }
      const size_t from = lines.size() > 12 ? lines.size() - 12 : 0;
      absl::StrAppend(&text, "\nthe proxy's log of ", id, ":");
      for (size_t l = from; l < lines.size(); ++l) absl::StrAppend(&text, "\n  ", lines[l]);
    }
    return text;
  }

  // The proxy's access log lines of calls that took 5 s or more (a stream
  // that hung until its client's deadline), the first 20.
  std::string ProxySlowCalls() const {
    std::string text;
    int shown = 0;
    for (absl::string_view line : absl::StrSplit(proxy_->AccessLog(), '\n')) {
      const size_t at = line.rfind(" time=");
      double seconds = 0;
      if (at == absl::string_view::npos || !absl::SimpleAtod(line.substr(at + 6), &seconds) ||
          seconds < 5) {
        continue;
      }
      if (shown++ == 0) absl::StrAppend(&text, "\nthe proxy's calls of 5 s or more:");
      if (shown <= 20) absl::StrAppend(&text, "\n  ", line);
    }
    return text;
  }

  std::string LogsAbout(const std::vector<std::string>& ids) const {
    std::string text;
    auto grep = [&](const ServerProcess& replica, const std::string& name) {
      for (absl::string_view line : absl::StrSplit(replica.Log(), '\n')) {
        for (const std::string& id : ids) {
          const size_t at = line.find(id);
          if (at == absl::string_view::npos) continue;
          const size_t after = at + id.size();
          if (after < line.size() && absl::ascii_isdigit(line[after])) continue;
          absl::StrAppend(&text, "\n  ", name, " ", line);
          break;
        }
      }
    };
    for (size_t r = 0; r < replicas_.size(); ++r) {
      if (replicas_[r] != nullptr)
        grep(*replicas_[r], absl::StrCat("replica ", r, " :", replicas_[r]->port()));
    }
    for (const auto& replica : retired_) grep(*replica, absl::StrCat("retired :", replica->port()));
    absl::StrAppend(&text, "\n  (replicas:");
    for (size_t r = 0; r < replicas_.size(); ++r) {
      if (replicas_[r] != nullptr) absl::StrAppend(&text, " ", r, " :", replicas_[r]->port());
    }
    absl::StrAppend(&text, ")");
    // The proxy's view of the first few.
    return text + ProxyLogAbout({ids.begin(), ids.begin() + std::min<size_t>(ids.size(), 5)}) +
           ProxySlowCalls();
  }

  // After the load: the proxy's older workers gone (they serve busy
  // connections with their old upstream, see NginxProxy::WaitForOldWorkers),
  // every session steps twice more on new streams, so each is where the final
  // ring sends it, as a client's next steps would put it. Then, the sessions
  // idle for a while, one more step each must come back with every earlier
  // step checkpointed (durable_steps): whatever happened to a session (moved,
  // restored, Redis emptied), its replica checkpoints it again, so a crash
  // now would lose nothing.
  void SettleOnTheFinalRing(SessionLoad& load) {
    const absl::Status old_workers_gone = proxy_->WaitForOldWorkers(absl::Seconds(30));
    ASSERT_TRUE(old_workers_gone.ok()) << old_workers_gone;
    EXPECT_THAT(load.RunMore(channel_, 2), IsEmpty()) << Describe(load) << LogsAbout(load);
    absl::SleepFor(10 * kCheckpointInterval);
    EXPECT_THAT(load.RunMore(channel_, 1), IsEmpty()) << Describe(load) << LogsAbout(load);
    std::vector<std::string> behind;
    for (int i = 0; i < load.sessions(); ++i) {
      if (load.durable(i) < load.answered(i) - 1) {
        behind.push_back(absl::StrCat(load.id(i), " (durable_steps ", load.durable(i),
                                      " after step ", load.answered(i), ")"));
      }
    }
    EXPECT_THAT(behind, IsEmpty()) << "sessions whose checkpoints stopped following them";
  }

  // Waits until every session of `load` was told of a checkpoint
  // (durable_steps > 0): before a crash, so that each has one to come back
  // from (one without is NOT_FOUND by design).
  static void WaitUntilEverySessionIsCheckpointed(const SessionLoad& load) {
    const absl::Time give_up = absl::Now() + absl::Seconds(60);
    for (int i = 0; i < load.sessions(); ++i) {
      while (load.durable(i) == 0 && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(10));
      EXPECT_GT(load.durable(i), 0) << load.id(i);
    }
  }

  std::unique_ptr<RedisServer> redis_;
  int proxy_port_ = 0;
  std::vector<std::unique_ptr<ServerProcess>> replicas_;  // null once retired
  std::vector<std::unique_ptr<ServerProcess>> retired_;
  std::unique_ptr<NginxProxy> proxy_;
  std::shared_ptr<grpc::Channel> channel_;
};

// 1. The HPA adds replicas: 3 -> 4 -> 5 under load. Sessions whose place on
// the ring moves are pulled from their old owner on their next stream.
TEST_F(ClusterTest, ScaleUpFromThreeToFiveReplicasLosesNothing) {
  ASSERT_NO_FATAL_FAILURE(StartFleet(3));
  std::unique_ptr<SessionLoad> load = MakeLoad({.id_prefix = "scale-up"});
  ASSERT_NE(load, nullptr);
  std::vector<int> added;
  const std::vector<std::string> failures = load->Run(channel_, kUntil, [&] {
    for (int round = 0; round < 2; ++round) {
      WaitForMore(*load, kSessions * 8);
      const int r = StartReplica();
      if (r < 0) return;
      added.push_back(r);
      Reload();
    }
    WaitForMore(*load, kSessions * 4);
  });
  EXPECT_THAT(failures, IsEmpty()) << Describe(*load) << LogsAbout(*load);
  ASSERT_NO_FATAL_FAILURE(SettleOnTheFinalRing(*load));
  ExpectNothingLost(*load);
  ExpectNoneFenced();
  ASSERT_EQ(added.size(), 2u);
  std::cout << Describe(*load) << "\n";
  for (int r : added) {
    // The new replicas took their part of the ring from its old owners.
    EXPECT_GT(Metric(r, "rnnserve_active_sessions"), 0) << "replica " << r;
    EXPECT_GT(Labelled(r, "rnnserve_session_pulls_total", "source=\"peer\""), 0) << "replica " << r;
    EXPECT_EQ(Labelled(r, "rnnserve_session_pulls_total", "source=\"none\""), 0) << "replica " << r;
  }
  ExpectEachSessionOnExactlyOneReplica(*load);
}

// 2. A replica leaves gracefully (SIGTERM, the endpoint removed from the
// proxy): it checkpoints and hands its sessions over; nothing is lost.
TEST_F(ClusterTest, ScaleDownBySigtermLosesNothing) {
  ASSERT_NO_FATAL_FAILURE(StartFleet(4));
  std::unique_ptr<SessionLoad> load = MakeLoad({.id_prefix = "scale-down"});
  ASSERT_NE(load, nullptr);
  int victim = -1;
  double victim_held = 0;
  const std::vector<std::string> failures = load->Run(channel_, kUntil, [&] {
    WaitForMore(*load, kSessions * 12);
    victim = Busiest();
    victim_held = Metric(victim, "rnnserve_active_sessions");
    replicas_[victim]->Signal(SIGTERM);
    Reload(/*except=*/victim);
    WaitForMore(*load, kSessions * 4);
  });
  EXPECT_THAT(failures, IsEmpty()) << Describe(*load) << LogsAbout(*load);
  ASSERT_NO_FATAL_FAILURE(SettleOnTheFinalRing(*load));
  ExpectNothingLost(*load);
  std::cout << Describe(*load) << "\n";
  ASSERT_GE(victim, 0);
  EXPECT_GT(victim_held, 0);
  ASSERT_EQ(replicas_[victim]->Wait(absl::Seconds(60)), 0) << replicas_[victim]->Log();
  // With a store the sessions are released (final checkpoints), not imported.
  EXPECT_THAT(replicas_[victim]->Log(), HasSubstr("checkpointed and released"));
  Retire(victim);
  ExpectNoneFenced();
  ExpectEachSessionOnExactlyOneReplica(*load);
}

// 3. The busiest replica is killed (-9): its sessions come back on the
// survivors from their last checkpoints. A client loses at most the steps
// after the last durable_steps it was told (SessionLoad fails a session that
// comes back behind them), sends exactly those again, and ends with the
// uninterrupted run's outputs.
TEST_F(ClusterTest, KillOfTheBusiestReplicaLosesAtMostTheUncheckpointedSteps) {
  ASSERT_NO_FATAL_FAILURE(StartFleet(3));
  std::unique_ptr<SessionLoad> load = MakeLoad({.id_prefix = "kill"});
  ASSERT_NE(load, nullptr);
  int victim = -1;
  double victim_held = 0;
  const std::vector<std::string> failures = load->Run(channel_, kUntil, [&] {
    WaitForMore(*load, kSessions * 12);
    WaitUntilEverySessionIsCheckpointed(*load);
    victim = Busiest();
    victim_held = Metric(victim, "rnnserve_active_sessions");
    replicas_[victim]->Signal(SIGKILL);
    Reload(/*except=*/victim);
    WaitForMore(*load, kSessions * 4);
  });
  EXPECT_THAT(failures, IsEmpty()) << Describe(*load) << LogsAbout(*load);
  ASSERT_NO_FATAL_FAILURE(SettleOnTheFinalRing(*load));
  const LoadCounts c = load->Counts();
  std::cout << Describe(*load) << "\n";
  EXPECT_EQ(c.not_found, 0) << Describe(*load);
  // Every step taken back was sent again: the clients' answers are whole.
  EXPECT_EQ(c.new_steps, [&] {
    int64_t steps = 0;
    for (int i = 0; i < load->sessions(); ++i) steps += load->answered(i);
    return steps;
  }()) << Describe(*load);
  ASSERT_GE(victim, 0);
  EXPECT_GT(victim_held, 0);
  EXPECT_EQ(replicas_[victim]->Wait(absl::Seconds(10)), 128 + SIGKILL);
  Retire(victim);
  double from_checkpoints = 0;
  for (int r = 0; r < static_cast<int>(replicas_.size()); ++r) {
    if (replicas_[r] == nullptr) continue;
    from_checkpoints += Labelled(r, "rnnserve_session_pulls_total", "source=\"checkpoint\"");
    EXPECT_EQ(Labelled(r, "rnnserve_session_pulls_total", "source=\"none\""), 0) << r;
  }
  // Each of the victim's sessions came back from its checkpoint once.
  EXPECT_EQ(from_checkpoints, victim_held);
  ExpectEachSessionOnExactlyOneReplica(*load);
}

// 4. A rolling update: each replica in turn gets SIGTERM and is replaced
// by a new process (a new address, as a new pod), under load.
TEST_F(ClusterTest, RollingRestartOfEveryReplicaLosesNothing) {
  ASSERT_NO_FATAL_FAILURE(StartFleet(3));
  std::unique_ptr<SessionLoad> load = MakeLoad({.id_prefix = "rolling"});
  ASSERT_NE(load, nullptr);
  std::vector<int> exit_codes;
  const std::vector<std::string> failures = load->Run(channel_, kUntil, [&] {
    for (int old = 0; old < 3; ++old) {
      WaitForMore(*load, kSessions * 4);
      replicas_[old]->Signal(SIGTERM);
      Reload(/*except=*/old);
      exit_codes.push_back(replicas_[old]->Wait(absl::Seconds(60)));
      if (exit_codes.back() != 0) ADD_FAILURE() << replicas_[old]->Log();
      Retire(old);
      if (StartReplica() < 0) return;
      Reload();
    }
    WaitForMore(*load, kSessions * 4);
  });
  EXPECT_THAT(failures, IsEmpty()) << Describe(*load) << LogsAbout(*load);
  ASSERT_NO_FATAL_FAILURE(SettleOnTheFinalRing(*load));
  ExpectNothingLost(*load);
  std::cout << Describe(*load) << "\n";
  EXPECT_THAT(exit_codes, ::testing::ElementsAre(0, 0, 0));
  ExpectNoneFenced();
  ExpectEachSessionOnExactlyOneReplica(*load);
}

// 5. Redis goes away under load, twice: frozen for 5 s (it comes back with
// its data), then killed for 5 s and started again empty. Serving goes on
// in memory without one failed step, rnnserve_session_store_up says so, and
// checkpoints resume once it is back (the empty Redis gets every session's
// record again).
TEST_F(ClusterTest, RedisDownForFiveSecondsFailsNoStep) {
  ASSERT_NO_FATAL_FAILURE(StartFleet(3));
  std::unique_ptr<SessionLoad> load = MakeLoad({.id_prefix = "redis-down",
                                                .max_steps = 600,
                                                .pause_between_rounds = absl::Milliseconds(100)});
  ASSERT_NE(load, nullptr);
  auto up = [](double v) { return v == 1; };
  auto down = [](double v) { return v == 0; };
  auto outage = [&](bool kill) {
    WaitForMore(*load, kSessions * 4);
    const absl::Time since = absl::Now();
    if (kill) {
      redis_->Kill();
    } else {
      redis_->Pause();
    }
    EXPECT_TRUE(WaitForEveryReplica("rnnserve_session_store_up", down, absl::Seconds(5)))
        << (kill ? "killed" : "paused") << ": rnnserve_session_store_up stayed 1";
    const double errors = SumOverReplicas("rnnserve_session_store_errors_total");
    EXPECT_GT(errors, 0);
    absl::SleepFor(since + absl::Seconds(5) - absl::Now());
    std::vector<double> checkpoints;
    for (int r = 0; r < 3; ++r)
      checkpoints.push_back(Metric(r, "rnnserve_checkpoint_seconds_count"));
    if (kill) {
      const absl::Status restarted = redis_->Restart();
      EXPECT_TRUE(restarted.ok()) << restarted;
    } else {
      redis_->Resume();
    }
    EXPECT_TRUE(WaitForEveryReplica("rnnserve_session_store_up", up, absl::Seconds(10)))
        << Describe(*load);
    for (int r = 0; r < 3; ++r) {
      // Checkpoints resume: batches written after the outage.
      const absl::Time give_up = absl::Now() + absl::Seconds(10);
      while (Metric(r, "rnnserve_checkpoint_seconds_count") <= checkpoints[r] &&
             absl::Now() < give_up) {
        absl::SleepFor(kCheckpointInterval / 2);
      }
      EXPECT_GT(Metric(r, "rnnserve_checkpoint_seconds_count"), checkpoints[r]) << "replica " << r;
    }
    WaitForMore(*load, kSessions * 4);
  };
  const std::vector<std::string> failures = load->Run(channel_, kUntil, [&] {
    outage(/*kill=*/false);
    outage(/*kill=*/true);
  });
  EXPECT_THAT(failures, IsEmpty()) << Describe(*load) << LogsAbout(*load);
  ASSERT_NO_FATAL_FAILURE(SettleOnTheFinalRing(*load));
  const LoadCounts c = load->Counts();
  std::cout << Describe(*load) << "\n";
  // No step failed in any way.
  EXPECT_EQ(c.not_found, 0) << Describe(*load);
  EXPECT_EQ(c.aborted, 0) << Describe(*load);
  EXPECT_EQ(c.restarts, 0) << Describe(*load);
  EXPECT_EQ(c.moved, 0) << Describe(*load);
  EXPECT_EQ(c.broken_streams, 0) << Describe(*load);
  EXPECT_EQ(c.resent_steps, 0) << Describe(*load);
  EXPECT_EQ(c.new_steps, c.answers);
  // The empty Redis learned every session again from the checkpoints.
  const absl::Time give_up = absl::Now() + 20 * kCheckpointInterval;
  int records = 0;
  while ((records = SessionRecords()) != kSessions && absl::Now() < give_up) {
    absl::SleepFor(kCheckpointInterval);
  }
  EXPECT_EQ(records, kSessions);
  ExpectEachSessionOnExactlyOneReplica(*load);
}

// 6. A replica frozen (SIGSTOP) while its sessions move elsewhere (it is
// taken out of the proxy, its clients time out and come back through the
// others, which restore the sessions from their checkpoints and fence it),
// then thawed (SIGCONT) and put back behind the proxy: it must never answer
// from the copies it held before, neither on the streams it had nor for the
// sessions the ring sends it again.
TEST_F(ClusterTest, AStaleReplicaNeverAnswersWithAStaleState) {
  ASSERT_NO_FATAL_FAILURE(StartFleet(3));
  // A client's answer timeout gets its sessions off the frozen replica.
  std::unique_ptr<SessionLoad> load =
      MakeLoad({.id_prefix = "stale", .stream_deadline = absl::Seconds(2)});
  ASSERT_NE(load, nullptr);
  int frozen = -1;
  double frozen_held = 0;
  LoadCounts at_thaw;
  const std::vector<std::string> failures = load->Run(channel_, kUntil, [&] {
    WaitForMore(*load, kSessions * 8);
    WaitUntilEverySessionIsCheckpointed(*load);
    frozen = Busiest();
    frozen_held = Metric(frozen, "rnnserve_active_sessions");
    std::vector<int64_t> answers_at_freeze;
    for (int i = 0; i < load->sessions(); ++i) answers_at_freeze.push_back(load->answers(i));
    replicas_[frozen]->Signal(SIGSTOP);
    Reload(/*except=*/frozen);
    // Every session has answers since: none is left on the frozen replica.
    const absl::Time give_up = absl::Now() + absl::Seconds(60);
    for (int i = 0; i < load->sessions(); ++i) {
      while (load->answers(i) <= answers_at_freeze[i] && absl::Now() < give_up) {
        absl::SleepFor(absl::Milliseconds(20));
      }
      EXPECT_GT(load->answers(i), answers_at_freeze[i]) << load->id(i) << " " << Describe(*load);
    }
    at_thaw = load->Counts();
    replicas_[frozen]->Signal(SIGCONT);
    Reload();
    WaitForMore(*load, kSessions * 4);
  });
  EXPECT_THAT(failures, IsEmpty()) << Describe(*load) << LogsAbout(*load);
  ASSERT_NO_FATAL_FAILURE(SettleOnTheFinalRing(*load));
  const LoadCounts c = load->Counts();
  std::cout << Describe(*load) << "\n";
  ASSERT_GE(frozen, 0);
  EXPECT_GT(frozen_held, 0);
  EXPECT_EQ(c.not_found, 0) << Describe(*load);
  // Once thawed, every session is where it stands on its owner: no answer
  // behind the client (a stale copy would say ABORTED with its old count,
  // or answer from it), no replay.
  EXPECT_EQ(c.aborted, at_thaw.aborted)
      << Describe(*load) << "\nsince the thaw:\n  "
      << absl::StrJoin(load->Events(at_thaw.events), "\n  ") << LogsAbout(*load);
  EXPECT_EQ(c.restarts, at_thaw.restarts) << Describe(*load);
  EXPECT_EQ(c.not_found, at_thaw.not_found) << Describe(*load);
  // The frozen replica dropped the copies others took.
  EXPECT_GT(Metric(frozen, "rnnserve_sessions_fenced_total"), 0);
  ExpectEachSessionOnExactlyOneReplica(*load);
}

// Configuration mistakes: an unparsable --session_store is refused at
// start (exit 2, a message naming it); a Redis that cannot be reached or
// refuses the password does not stop the server: it serves in memory, logs
// the error and says so in rnnserve_session_store_up.
TEST_F(ClusterTest, BadSessionStoreConfiguration) {
  const std::string rnnserve = std::string(RNNSERVE_BIN_DIR) + "/rnnserve";
  for (const std::string url :
       {"redis:/127.0.0.1:6379", "http://127.0.0.1:6379", "redis://127.0.0.1:port", "redis://"}) {
    const ProgramResult run =
        RunProgram({rnnserve, "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0",
                    "--models=" + Models(), "--session_store=" + url},
                   "", absl::Seconds(20));
    EXPECT_EQ(run.exit_code, 2) << url << ": " << run.err;
    EXPECT_THAT(run.err, HasSubstr(url)) << url;
  }
  {
    const ProgramResult run = RunProgram(
        {rnnserve, "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0", "--models=" + Models(),
         "--session_store=" + redis_->url(),
         "--session_store_password_file=" + ::testing::TempDir() + "/no-such-password-file"},
        "", absl::Seconds(20));
    EXPECT_EQ(run.exit_code, 2) << run.err;
    EXPECT_THAT(run.err, HasSubstr("no-such-password-file"));
  }

  absl::StatusOr<std::unique_ptr<RedisServer>> locked =
      RedisServer::Start({.password = "right horse battery"});
  ASSERT_TRUE(locked.ok()) << locked.status();
  const std::string password_file = ::testing::TempDir() + "/cluster_test_password";
  auto start = [&](const std::string& url, const std::string& password) {
    std::ofstream(password_file) << password << "\n";
    return ServerProcess::Start({"--models=" + Models(), "--session_store=" + url,
                                 "--session_store_password_file=" + password_file,
                                 absl::StrCat("--checkpoint_interval=", kInterval)});
  };
  // What the right password gives, so that a 0 below means something.
  {
    absl::StatusOr<std::unique_ptr<ServerProcess>> server =
        start((*locked)->url(), "right horse battery");
    ASSERT_TRUE(server.ok()) << server.status();
    replicas_.push_back(*std::move(server));
    EXPECT_TRUE(WaitForEveryReplica(
        "rnnserve_session_store_up", [](double v) { return v == 1; }, absl::Seconds(10)))
        << replicas_.back()->Log();
    replicas_.clear();
  }
  const std::string nothing_there = absl::StrCat("redis://127.0.0.1:", UnusedPort());
  for (const auto& [url, password] : std::vector<std::pair<std::string, std::string>>{
           {(*locked)->url(), "wrong horse"}, {nothing_there, "any"}}) {
    absl::StatusOr<std::unique_ptr<ServerProcess>> server = start(url, password);
    ASSERT_TRUE(server.ok()) << url << ": " << server.status();
    replicas_.push_back(*std::move(server));
    EXPECT_EQ(Metric(0, "rnnserve_session_store_up"), 0) << url;
    // The error is logged (glog's E lines), naming the store.
    const std::string log = replicas_.back()->Log();
    bool logged = false;
    for (absl::string_view line : absl::StrSplit(log, '\n')) {
      logged |= absl::StartsWith(line, "E") &&
                absl::StrContains(line, url.substr(std::string("redis://").size()));
    }
    EXPECT_TRUE(logged) << url << ":\n" << log;
    // It serves, in memory.
    auto inference = v1::InferenceService::NewStub(
        grpc::CreateChannel(replicas_.back()->address(), grpc::InsecureChannelCredentials()));
    v1::StepRequest request;
    request.set_session_id("in-memory");
    request.set_start(true);
    request.mutable_model()->set_name("forecast");
    request.mutable_floats()->add_values(0.5f);
    v1::StepResponse response;
    grpc::ClientContext context;
    const grpc::Status status = inference->Step(&context, request, &response);
    EXPECT_TRUE(status.ok()) << url << ": " << status.error_message();
    EXPECT_EQ(response.session_steps(), 1);
    replicas_.clear();
  }
  std::filesystem::remove(password_file);
}

}  // namespace
}  // namespace rnnserve::testing
