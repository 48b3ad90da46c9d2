// SessionDirectory against a real redis-server (tests/common/redis_server.h):
// the record format, claims, checkpoints, forgetting, fences, what happens
// when Redis restarts empty or holds junk, and Redis memory per session.
#include "server/cluster/session_directory.h"

#include <algorithm>
#include <atomic>
#include <iostream>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rnnserve/v1/sessions.pb.h"
#include "tests/common/redis_server.h"

namespace rnnserve::cluster {
namespace {

using ::rnnserve::testing::RedisServer;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr char kPrefix[] = "test";
constexpr char kMe[] = "10.0.0.1:50051";
constexpr char kOther[] = "10.0.0.2:50051";

class SessionDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<RedisServer>> redis = RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
    pool_ = std::make_unique<RedisPool>(
        RedisOptions{.address = {.host = "127.0.0.1", .port = redis_->port()}});
    me_ = std::make_unique<SessionDirectory>(pool_.get(), kPrefix, kMe);
    other_ = std::make_unique<SessionDirectory>(pool_.get(), kPrefix, kOther);
  }

  // A command on a connection of its own, for looking at or planting raw
  // records; fails the test on an I/O error.
  RedisReply Raw(const RedisCommand& command) {
    absl::StatusOr<RedisPool::Lease> lease = pool_->Acquire();
    EXPECT_TRUE(lease.ok()) << lease.status();
    if (!lease.ok()) return {};
    absl::StatusOr<RedisReply> reply = (*lease)->Command(command);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *std::move(reply) : RedisReply{};
  }

  int64_t InfoField(const std::string& section, const std::string& field) {
    const RedisReply info = Raw({"INFO", section});
    for (absl::string_view line : absl::StrSplit(info.str, "\r\n")) {
      if (absl::ConsumePrefix(&line, field + ":")) {
        int64_t value = 0;
        if (absl::SimpleAtoi(line, &value)) return value;
      }
    }
    return -1;
  }

  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<RedisPool> pool_;
  std::unique_ptr<SessionDirectory> me_;     // kMe
  std::unique_ptr<SessionDirectory> other_;  // kOther
};

TEST_F(SessionDirectoryTest, ALookupOfAnUnknownSessionFindsNothing) {
  absl::StatusOr<std::optional<SessionRecord>> record = me_->Lookup("nobody");
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_FALSE(record->has_value());
  EXPECT_TRUE(me_->Ping().ok());
}

// LookupHeader answers as Lookup, without the checkpoint's bytes (a state
// of any size, 64 KiB here, need not cross the wire to learn its owner).
TEST_F(SessionDirectoryTest, AHeaderLookupIsALookupWithoutTheCheckpoint) {
  absl::StatusOr<std::optional<SessionRecord>> none = me_->LookupHeader("nobody");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(other_->Claim("s1", ClaimMode::kStart, std::nullopt).ok());
  const std::string state(64 << 10, 's');
  ASSERT_TRUE(other_->WriteCheckpoints({{{"s1", 1, 9, state}}}).ok());
  absl::StatusOr<std::optional<SessionRecord>> whole = me_->Lookup("s1");
  absl::StatusOr<std::optional<SessionRecord>> header = me_->LookupHeader("s1");
  ASSERT_TRUE(whole.ok() && header.ok()) << whole.status() << header.status();
  ASSERT_TRUE(whole->has_value() && header->has_value());
  EXPECT_EQ((*whole)->checkpoint, state);
  EXPECT_EQ((*header)->epoch, (*whole)->epoch);
  EXPECT_EQ((*header)->owner, kOther);
  EXPECT_EQ((*header)->checkpoint_steps, 9);
  EXPECT_EQ((*header)->checkpoint, "");
}

TEST_F(SessionDirectoryTest, AStartClaimMakesEpochOneInTheSpecifiedFormat) {
  absl::StatusOr<ClaimResult> claim = me_->Claim("s1", ClaimMode::kStart, std::nullopt);
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_TRUE(claim->won);
  EXPECT_EQ(claim->epoch, 1);
  EXPECT_EQ(claim->previous_owner, "");
  EXPECT_EQ(claim->previous_epoch, 0);
  EXPECT_EQ(claim->checkpoint_steps, 0);
  EXPECT_EQ(Raw({"GET", "test:s:s1"}).str, "1 0 10.0.0.1:50051\n");

  absl::StatusOr<std::optional<SessionRecord>> record = me_->Lookup("s1");
  ASSERT_TRUE(record.ok()) << record.status();
  ASSERT_TRUE(record->has_value());
  EXPECT_EQ((*record)->epoch, 1);
  EXPECT_EQ((*record)->owner, kMe);
  EXPECT_EQ((*record)->checkpoint_steps, 0);
  EXPECT_EQ((*record)->checkpoint, "");
}

TEST_F(SessionDirectoryTest, StartingAgainBumpsTheEpochAndDropsTheCheckpoint) {
  ASSERT_TRUE(other_->Claim("s1", ClaimMode::kStart, std::nullopt).ok());
  ASSERT_TRUE(other_->WriteCheckpoints({{{"s1", 1, 9, "state"}}}).ok());
  absl::StatusOr<ClaimResult> claim = me_->Claim("s1", ClaimMode::kStart, std::nullopt);
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_TRUE(claim->won);
  EXPECT_EQ(claim->epoch, 2);
  EXPECT_EQ(claim->previous_owner, kOther);
  EXPECT_EQ(claim->previous_epoch, 1);
  EXPECT_EQ(claim->checkpoint_steps, 0);
  EXPECT_EQ(claim->checkpoint, "");
  EXPECT_EQ(Raw({"GET", "test:s:s1"}).str, "2 0 10.0.0.1:50051\n");
}

TEST_F(SessionDirectoryTest, ATakeKeepsAndReturnsTheCheckpoint) {
  ASSERT_TRUE(other_->Claim("s1", ClaimMode::kStart, std::nullopt).ok());
  ASSERT_TRUE(other_->WriteCheckpoints({{{"s1", 1, 7, "seven steps"}}}).ok());
  EXPECT_EQ(Raw({"GET", "test:s:s1"}).str, "1 7 10.0.0.2:50051\nseven steps");

  absl::StatusOr<ClaimResult> claim = me_->Claim("s1", ClaimMode::kTake, 1);
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_TRUE(claim->won);
  EXPECT_EQ(claim->epoch, 2);
  EXPECT_EQ(claim->previous_owner, kOther);
  EXPECT_EQ(claim->previous_epoch, 1);
  EXPECT_EQ(claim->checkpoint_steps, 7);
  EXPECT_EQ(claim->checkpoint, "seven steps");
  EXPECT_EQ(Raw({"GET", "test:s:s1"}).str, "2 7 10.0.0.1:50051\nseven steps");
}

TEST_F(SessionDirectoryTest, ATakeAtAnotherEpochLosesAndChangesNothing) {
  ASSERT_TRUE(other_->Claim("s1", ClaimMode::kStart, std::nullopt).ok());
  ASSERT_TRUE(other_->WriteCheckpoints({{{"s1", 1, 3, "abc"}}}).ok());
  absl::StatusOr<ClaimResult> claim = me_->Claim("s1", ClaimMode::kTake, 5);
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_FALSE(claim->won);
  EXPECT_EQ(claim->epoch, 1);
  EXPECT_EQ(claim->previous_owner, kOther);
  EXPECT_EQ(claim->checkpoint_steps, 3);
  EXPECT_EQ(claim->checkpoint, "") << "a lost claim ships no state";
  EXPECT_EQ(Raw({"GET", "test:s:s1"}).str, "1 3 10.0.0.2:50051\nabc");

  // Nothing to take: lost, epoch 0, no owner.
  claim = me_->Claim("missing", ClaimMode::kTake, 1);
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_FALSE(claim->won);
  EXPECT_EQ(claim->epoch, 0);
  EXPECT_EQ(claim->previous_owner, "");
  EXPECT_EQ(Raw({"EXISTS", "test:s:missing"}).integer, 0);
  // A start that expects an epoch is held to it too.
  claim = me_->Claim("s1", ClaimMode::kStart, 4);
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_FALSE(claim->won);
}

TEST_F(SessionDirectoryTest, RacingTakesOfOneEpochHaveExactlyOneWinner) {
  constexpr int kRacers = 8;
  constexpr int kRounds = 10;
  RedisPool pool({.address = {.host = "127.0.0.1", .port = redis_->port()},
                  .command_timeout = absl::Seconds(5)},
                 {.max_connections = kRacers});
  std::vector<std::unique_ptr<SessionDirectory>> racers;
  for (int r = 0; r < kRacers; ++r) {
    racers.push_back(
        std::make_unique<SessionDirectory>(&pool, kPrefix, absl::StrCat("r", r, ":1")));
  }
  ASSERT_TRUE(me_->Claim("raced", ClaimMode::kStart, std::nullopt).ok());
  for (int round = 0; round < kRounds; ++round) {
    const int64_t epoch = round + 1;
    std::atomic<int> winners{0};
    std::atomic<int> errors{0};
    std::atomic<int> winner{-1};
    std::latch go(kRacers);
    std::vector<std::thread> threads;
    for (int r = 0; r < kRacers; ++r) {
      threads.emplace_back([&, r] {
        go.arrive_and_wait();
        absl::StatusOr<ClaimResult> claim = racers[r]->Claim("raced", ClaimMode::kTake, epoch);
        if (!claim.ok()) {
          ++errors;
        } else if (claim->won) {
          ++winners;
          winner = r;
        } else if (claim->epoch != epoch + 1) {
          ++errors;  // A loser sees the winner's epoch.
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    ASSERT_EQ(errors.load(), 0) << "round " << round;
    ASSERT_EQ(winners.load(), 1) << "round " << round;
    absl::StatusOr<std::optional<SessionRecord>> record = me_->Lookup("raced");
    ASSERT_TRUE(record.ok() && record->has_value());
    EXPECT_EQ((*record)->epoch, epoch + 1);
    EXPECT_EQ((*record)->owner, absl::StrCat("r", winner.load(), ":1"));
  }
}

TEST_F(SessionDirectoryTest, ACheckpointIsWrittenOlderOrFenced) {
  ASSERT_TRUE(me_->Claim("s1", ClaimMode::kStart, std::nullopt).ok());
  ASSERT_TRUE(me_->Claim("s2", ClaimMode::kStart, std::nullopt).ok());
  ASSERT_TRUE(me_->Claim("s3", ClaimMode::kStart, std::nullopt).ok());
  ASSERT_TRUE(me_->WriteCheckpoints({{{"s2", 1, 5, "five"}}}).ok());
  ASSERT_TRUE(other_->Claim("s3", ClaimMode::kTake, 1).ok());  // s3 is other's at epoch 2.

  const std::vector<Checkpoint> batch = {
      {"s1", 1, 4, "four"},      // written
      {"s2", 1, 3, "three"},     // older than the recorded 5
      {"s3", 1, 9, "nine"},      // other owns it at epoch 2
      {"s3", 2, 9, "nine"},      // the epoch is right, the owner is not
      {"s2", 1, 5, "five bis"},  // the same steps again: written
  };
  absl::StatusOr<std::vector<CheckpointOutcome>> outcomes = me_->WriteCheckpoints(batch);
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  EXPECT_EQ(*outcomes,
            (std::vector<CheckpointOutcome>{CheckpointOutcome::kWritten, CheckpointOutcome::kOlder,
                                            CheckpointOutcome::kFenced, CheckpointOutcome::kFenced,
                                            CheckpointOutcome::kWritten}));
  EXPECT_EQ(Raw({"GET", "test:s:s1"}).str, "1 4 10.0.0.1:50051\nfour");
  EXPECT_EQ(Raw({"GET", "test:s:s2"}).str, "1 5 10.0.0.1:50051\nfive bis");
  EXPECT_EQ(Raw({"GET", "test:s:s3"}).str, "2 0 10.0.0.2:50051\n");

  // A new epoch takes any steps: the session may have restarted.
  ASSERT_TRUE(me_->Claim("s2", ClaimMode::kStart, std::nullopt).ok());
  outcomes = me_->WriteCheckpoints({{{"s2", 2, 1, "one"}}});
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  EXPECT_EQ(outcomes->front(), CheckpointOutcome::kWritten);
}

TEST_F(SessionDirectoryTest, ABatchOf256IsOneCallWithAnOutcomeEach) {
  std::vector<Checkpoint> batch;
  for (int i = 0; i < 256; ++i) batch.push_back({absl::StrCat("s", i), 1, i, std::string(64, 'x')});
  Raw({"CONFIG", "RESETSTAT"});
  absl::StatusOr<std::vector<CheckpointOutcome>> outcomes = me_->WriteCheckpoints(batch);
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  ASSERT_EQ(outcomes->size(), 256u);
  // One script call for the whole batch (a NOSCRIPT answer would add an EVAL).
  EXPECT_THAT(Raw({"INFO", "commandstats"}).str, HasSubstr("cmdstat_evalsha:calls=1,"));
  EXPECT_TRUE(std::all_of(outcomes->begin(), outcomes->end(),
                          [](CheckpointOutcome o) { return o == CheckpointOutcome::kWritten; }));
  EXPECT_EQ(Raw({"DBSIZE"}).integer, 256);
  absl::StatusOr<std::vector<CheckpointOutcome>> none = me_->WriteCheckpoints({});
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
}

TEST_F(SessionDirectoryTest, ACheckpointRecreatesTheRecordAfterRedisRestartedEmpty) {
  ASSERT_TRUE(me_->Claim("s1", ClaimMode::kStart, std::nullopt).ok());
  ASSERT_TRUE(me_->Claim("s1", ClaimMode::kStart, std::nullopt).ok());  // epoch 2
  ASSERT_TRUE(redis_->Restart().ok());
  EXPECT_EQ(Raw({"DBSIZE"}).integer, 0);
  absl::StatusOr<std::vector<CheckpointOutcome>> outcomes =
      me_->WriteCheckpoints({{{"s1", 2, 12, "twelve"}}});
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  EXPECT_EQ(outcomes->front(), CheckpointOutcome::kWritten);
  EXPECT_EQ(Raw({"GET", "test:s:s1"}).str, "2 12 10.0.0.1:50051\ntwelve");
}

TEST_F(SessionDirectoryTest, ScriptsRunAgainByTextWhenRedisForgotThem) {
  ASSERT_TRUE(me_->Claim("s1", ClaimMode::kStart, std::nullopt).ok());  // SCRIPT LOAD + EVALSHA
  ASSERT_TRUE(me_->WriteCheckpoints({{{"s1", 1, 1, "a"}}}).ok());
  ASSERT_TRUE(redis_->Restart().ok());  // Empty: no scripts, no records.

  // The directory still has the SHA1s: EVALSHA answers NOSCRIPT, EVAL runs it.
  absl::StatusOr<ClaimResult> claim = me_->Claim("s1", ClaimMode::kStart, std::nullopt);
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_TRUE(claim->won);
  EXPECT_EQ(claim->epoch, 1);
  const RedisReply stats = Raw({"INFO", "commandstats"});
  EXPECT_THAT(stats.str, HasSubstr("cmdstat_eval:calls=1,"));
  EXPECT_THAT(stats.str, Not(HasSubstr("cmdstat_script:")))
      << "it ran the text rather than loading it again";
  // EVAL cached the script: the next claim is an EVALSHA again.
  ASSERT_TRUE(me_->Claim("s2", ClaimMode::kStart, std::nullopt).ok());
  EXPECT_THAT(Raw({"INFO", "commandstats"}).str, HasSubstr("cmdstat_eval:calls=1,"));

  // Also within a pipelined batch, and for a script this directory has not
  // run since the restart.
  ASSERT_TRUE(redis_->Restart().ok());
  absl::StatusOr<std::vector<CheckpointOutcome>> outcomes =
      me_->WriteCheckpoints({{{"s1", 1, 2, "b"}, {"s2", 1, 2, "c"}}});
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  EXPECT_EQ(outcomes->size(), 2u);
  EXPECT_EQ(Raw({"GET", "test:s:s2"}).str, "1 2 10.0.0.1:50051\nc");
}

TEST_F(SessionDirectoryTest, ForgetDeletesOnlyTheOwnersRecordAtItsEpoch) {
  ASSERT_TRUE(me_->Claim("s1", ClaimMode::kStart, std::nullopt).ok());
  ASSERT_TRUE(me_->Claim("s2", ClaimMode::kStart, std::nullopt).ok());
  EXPECT_TRUE(other_->Forget({{{"s1", 1}}}).ok());  // not the owner
  EXPECT_TRUE(me_->Forget({{{"s1", 2}}}).ok());     // not the epoch
  EXPECT_EQ(Raw({"EXISTS", "test:s:s1"}).integer, 1);
  EXPECT_TRUE(me_->Forget({{{"s1", 1}, {"s2", 1}, {"never", 1}}}).ok());
  EXPECT_EQ(Raw({"DBSIZE"}).integer, 0);
  EXPECT_TRUE(me_->Forget({}).ok());
}

TEST_F(SessionDirectoryTest, ReleaseMarksOnlyTheOwnersRecordAtItsEpochAndKeepsItsCheckpoint) {
  ASSERT_TRUE(me_->Claim("s1", ClaimMode::kStart, std::nullopt).ok());
  const Checkpoint checkpoint{"s1", 1, 7, "state"};
  ASSERT_TRUE(me_->WriteCheckpoints({&checkpoint, 1}).ok());
  EXPECT_TRUE(other_->Release({{{"s1", 1}}}).ok());  // not the owner
  EXPECT_TRUE(me_->Release({{{"s1", 2}}}).ok());     // not the epoch
  EXPECT_EQ(Raw({"GET", "test:s:s1"}).str, "1 7 " + std::string(kMe) + "\nstate");
  EXPECT_TRUE(me_->Release({{{"s1", 1}, {"never", 1}}}).ok());
  EXPECT_EQ(Raw({"GET", "test:s:s1"}).str, "1 7 -\nstate");
  EXPECT_EQ(Raw({"EXISTS", "test:s:never"}).integer, 0);
  // Taken over like any record, checkpoint and all.
  absl::StatusOr<ClaimResult> taken = other_->Claim("s1", ClaimMode::kTake, 1);
  ASSERT_TRUE(taken.ok() && taken->won);
  EXPECT_EQ(taken->previous_owner, kReleasedOwner);
  EXPECT_EQ(taken->checkpoint, "state");
}

TEST_F(SessionDirectoryTest, RecordsExpireTheirTtlAfterTheirLastWrite) {
  // The default: records never expire.
  ASSERT_TRUE(me_->Claim("forever", ClaimMode::kStart, std::nullopt).ok());
  EXPECT_EQ(Raw({"PTTL", "test:s:forever"}).integer, -1);

  constexpr int64_t kTtlMs = 60'000;
  SessionDirectory me(pool_.get(), kPrefix, kMe, absl::Milliseconds(kTtlMs));
  SessionDirectory other(pool_.get(), kPrefix, kOther, absl::Milliseconds(kTtlMs));
  // Each write sets the whole TTL again: age the record between writes.
  const auto expect_renewed = [&](const char* by) {
    const int64_t ttl = Raw({"PTTL", "test:s:s1"}).integer;
    EXPECT_GT(ttl, kTtlMs - 5'000) << by;
    EXPECT_LE(ttl, kTtlMs) << by;
    Raw({"PEXPIRE", "test:s:s1", "1000000"});
  };
  ASSERT_TRUE(me.Claim("s1", ClaimMode::kStart, std::nullopt).ok());
  expect_renewed("a start");
  Raw({"PEXPIRE", "test:s:s1", "1000"});
  ASSERT_TRUE(me.WriteCheckpoints({{{"s1", 1, 3, "three"}}}).ok());
  expect_renewed("a checkpoint");
  ASSERT_TRUE(me.Release({{{"s1", 1}}}).ok());
  expect_renewed("a release");
  absl::StatusOr<ClaimResult> taken = other.Claim("s1", ClaimMode::kTake, 1);
  ASSERT_TRUE(taken.ok() && taken->won);
  expect_renewed("a take");
  ASSERT_TRUE(me.WriteHandover(kOther, {"s1", 2, 4, "four"}).ok());
  EXPECT_EQ(Raw({"GET", "test:s:s1"}).str, "2 4 " + std::string(kOther) + "\nfour");
  expect_renewed("a handover");
  // A write that loses (fenced) leaves the TTL alone.
  ASSERT_TRUE(me.WriteCheckpoints({{{"s1", 1, 9, "stale"}}}).ok());
  EXPECT_GT(Raw({"PTTL", "test:s:s1"}).integer, kTtlMs);

  // And expired, the record is gone: nothing to restore, nothing left.
  SessionDirectory brief(pool_.get(), kPrefix, kMe, absl::Milliseconds(100));
  ASSERT_TRUE(brief.Claim("s2", ClaimMode::kStart, std::nullopt).ok());
  absl::SleepFor(absl::Milliseconds(300));
  absl::StatusOr<std::optional<SessionRecord>> gone = brief.Lookup("s2");
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_FALSE(gone->has_value());
}

TEST_F(SessionDirectoryTest, PresenceIsMissingFirstThenRenewedAndMissingAgainAfterAnEmptyRestart) {
  absl::StatusOr<bool> present = me_->RenewPresence(absl::Seconds(10));
  ASSERT_TRUE(present.ok()) << present.status();
  EXPECT_FALSE(*present);
  present = me_->RenewPresence(absl::Seconds(10));
  ASSERT_TRUE(present.ok() && *present);
  EXPECT_GT(Raw({"PTTL", "test:replica:" + std::string(kMe)}).integer, 9000);
  ASSERT_TRUE(redis_->Restart().ok());
  present = me_->RenewPresence(absl::Seconds(10));
  ASSERT_TRUE(present.ok()) << present.status();
  EXPECT_FALSE(*present);
}

TEST_F(SessionDirectoryTest, FencesAreDrainedOnceByTheirOwner) {
  ASSERT_TRUE(other_->Fence(kMe, "s1").ok());
  ASSERT_TRUE(other_->Fence(kMe, "s2").ok());
  ASSERT_TRUE(other_->Fence(kMe, "s1").ok());
  ASSERT_TRUE(me_->Fence(kOther, "s9").ok());
  EXPECT_EQ(Raw({"SCARD", "test:fence:10.0.0.1:50051"}).integer, 2);
  // A replica that never comes back does not leave its fences for good.
  EXPECT_GT(Raw({"TTL", "test:fence:10.0.0.1:50051"}).integer, 86000);

  absl::StatusOr<std::vector<std::string>> fenced = me_->DrainFences();
  ASSERT_TRUE(fenced.ok()) << fenced.status();
  EXPECT_THAT(*fenced, UnorderedElementsAre("s1", "s2"));
  fenced = me_->DrainFences();
  ASSERT_TRUE(fenced.ok()) << fenced.status();
  EXPECT_TRUE(fenced->empty());
  fenced = other_->DrainFences();
  ASSERT_TRUE(fenced.ok()) << fenced.status();
  EXPECT_THAT(*fenced, UnorderedElementsAre("s9"));
}

TEST_F(SessionDirectoryTest, AnUnreadableRecordIsDataLossNamingItsKey) {
  for (const std::string& junk : std::vector<std::string>{
           "1 0 " + std::string(600, 'h') + "\n",  // the header must end within 512 bytes
           "garbage", "", "1 0\n", "0 0 a:1\n", "x 0 a:1\n", "1 -1 a:1\n", "1 01 a:1\n",
           "1 0 a b\n", "1  a:1\n", "1 0 \n", "1234567890123456 0 a:1\n",
           "1 0 a:1" /* no newline */}) {
    SCOPED_TRACE(absl::StrCat("record '", junk, "'"));
    Raw({"SET", "test:s:junk", junk});
    const auto expect_data_loss = [](const absl::Status& status) {
      EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
      EXPECT_THAT(status.message(), HasSubstr("test:s:junk"));
    };
    expect_data_loss(me_->Lookup("junk").status());
    expect_data_loss(me_->LookupHeader("junk").status());
    expect_data_loss(me_->Claim("junk", ClaimMode::kStart, std::nullopt).status());
    expect_data_loss(me_->Claim("junk", ClaimMode::kTake, 1).status());
    expect_data_loss(me_->WriteCheckpoints({{{"junk", 1, 1, "x"}}}).status());
    expect_data_loss(me_->Forget({{{"junk", 1}}}));
    EXPECT_EQ(Raw({"GET", "test:s:junk"}).str, junk) << "junk was overwritten";
  }
  // Not a string at all.
  Raw({"DEL", "test:s:junk"});
  Raw({"SADD", "test:s:junk", "x"});
  EXPECT_EQ(me_->Lookup("junk").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(me_->LookupHeader("junk").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(me_->Claim("junk", ClaimMode::kTake, 1).status().code(), absl::StatusCode::kDataLoss);
  // The batch fails, naming the key; the others in it, before and after,
  // were still written.
  absl::StatusOr<std::vector<CheckpointOutcome>> outcomes =
      me_->WriteCheckpoints({{{"ok", 1, 1, "x"}, {"junk", 1, 1, "x"}, {"ok2", 1, 2, "y"}}});
  EXPECT_EQ(outcomes.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(outcomes.status().message(), HasSubstr("test:s:junk"));
  EXPECT_EQ(Raw({"GET", "test:s:ok"}).str, "1 1 10.0.0.1:50051\nx");
  EXPECT_EQ(Raw({"GET", "test:s:ok2"}).str, "1 2 10.0.0.1:50051\ny");
  EXPECT_TRUE(me_->Ping().ok());
}

TEST_F(SessionDirectoryTest, BadArgumentsAreRefusedBeforeRedis) {
  const auto invalid = [](const absl::Status& status) {
    return status.code() == absl::StatusCode::kInvalidArgument;
  };
  EXPECT_TRUE(invalid(me_->Lookup("").status()));
  EXPECT_TRUE(invalid(me_->LookupHeader("").status()));
  EXPECT_TRUE(invalid(me_->Claim("", ClaimMode::kStart, std::nullopt).status()));
  EXPECT_TRUE(invalid(me_->Claim("s", ClaimMode::kTake, -1).status()));
  EXPECT_TRUE(invalid(me_->WriteCheckpoints({{{"", 1, 1, "x"}}}).status()));
  EXPECT_TRUE(invalid(me_->WriteCheckpoints({{{"s", 0, 1, "x"}}}).status()));
  EXPECT_TRUE(invalid(me_->WriteCheckpoints({{{"s", 1, -1, "x"}}}).status()));
  EXPECT_TRUE(invalid(me_->Forget({{{"", 1}}})));
  EXPECT_TRUE(invalid(me_->Fence("", "s")));
  EXPECT_TRUE(invalid(me_->Fence("a b:1", "s")));
  EXPECT_TRUE(invalid(me_->Fence(kOther, "")));
  for (const std::string& bad_me :
       std::vector<std::string>{"", "a b:1", "a\nb:1", std::string(256, 'h')}) {
    SessionDirectory directory(pool_.get(), kPrefix, bad_me);
    EXPECT_TRUE(invalid(directory.Claim("s", ClaimMode::kStart, std::nullopt).status()));
    EXPECT_TRUE(invalid(directory.WriteCheckpoints({{{"s", 1, 1, "x"}}}).status()));
    EXPECT_TRUE(invalid(directory.Forget({{{"s", 1}}})));
    EXPECT_TRUE(invalid(directory.DrainFences().status()));
  }
  EXPECT_EQ(Raw({"DBSIZE"}).integer, 0);
}

TEST_F(SessionDirectoryTest, IdsAndCheckpointsAreBinarySafe) {
  const std::string id("id\0with\nodd bytes:\xff", 20);
  std::string state;
  for (int i = 0; i < 4096; ++i) state.push_back(static_cast<char>(i % 256));
  std::string megabyte(1 << 20, '\0');
  for (size_t i = 0; i < megabyte.size(); ++i) megabyte[i] = static_cast<char>((i * 7919) >> 3);
  ASSERT_TRUE(other_->Claim(id, ClaimMode::kStart, std::nullopt).ok());
  for (const std::string& bytes : {state, megabyte}) {
    absl::StatusOr<std::vector<CheckpointOutcome>> outcomes =
        other_->WriteCheckpoints({{{id, 1, 1, bytes}}});
    ASSERT_TRUE(outcomes.ok()) << outcomes.status();
    absl::StatusOr<std::optional<SessionRecord>> record = me_->Lookup(id);
    ASSERT_TRUE(record.ok() && record->has_value());
    EXPECT_TRUE((*record)->checkpoint == bytes) << bytes.size() << " bytes changed";
  }
  absl::StatusOr<ClaimResult> claim = me_->Claim(id, ClaimMode::kTake, 1);
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_TRUE(claim->checkpoint == megabyte);
  ASSERT_TRUE(me_->Fence(kOther, id).ok());
  absl::StatusOr<std::vector<std::string>> fenced = other_->DrainFences();
  ASSERT_TRUE(fenced.ok()) << fenced.status();
  EXPECT_THAT(*fenced, UnorderedElementsAre(id));
}

TEST_F(SessionDirectoryTest, RedisDownIsUnavailableAndRecovers) {
  ASSERT_TRUE(me_->Claim("s1", ClaimMode::kStart, std::nullopt).ok());
  redis_->Kill();
  EXPECT_EQ(me_->Claim("s1", ClaimMode::kStart, std::nullopt).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(me_->Lookup("s1").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(me_->LookupHeader("s1").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(me_->Ping().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(redis_->Restart().ok());
  absl::Status ping;
  for (int attempt = 0; attempt < 100; ++attempt) {  // The pool's 100 ms backoff; ~5 s at most.
    ping = me_->Ping();
    if (ping.ok()) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(ping.ok()) << ping;
  absl::StatusOr<ClaimResult> claim = me_->Claim("s1", ClaimMode::kStart, std::nullopt);
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_EQ(claim->epoch, 1) << "Redis restarted empty";
}

TEST_F(SessionDirectoryTest, APausedRedisIsUnavailableWithinTheCommandTimeout) {
  RedisPool pool({.address = {.host = "127.0.0.1", .port = redis_->port()},
                  .command_timeout = absl::Milliseconds(200)});
  SessionDirectory directory(&pool, kPrefix, kMe);
  ASSERT_TRUE(directory.Ping().ok());
  redis_->Pause();
  const absl::Time start = absl::Now();
  const absl::Status status = directory.Claim("s1", ClaimMode::kStart, std::nullopt).status();
  const absl::Duration took = absl::Now() - start;
  redis_->Resume();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_LT(took, absl::Seconds(5)) << "a 200 ms command timeout was not applied";
  EXPECT_TRUE(directory.Ping().ok()) << "the timed-out connection was not replaced";
}

TEST_F(SessionDirectoryTest, AWrongPasswordIsUnauthenticated) {
  absl::StatusOr<std::unique_ptr<RedisServer>> locked = RedisServer::Start({.password = "pw"});
  ASSERT_TRUE(locked.ok()) << locked.status();
  RedisPool pool({.address = {.host = "127.0.0.1", .port = (*locked)->port()}, .password = "no"});
  SessionDirectory directory(&pool, kPrefix, kMe);
  EXPECT_EQ(directory.Ping().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(directory.Claim("s", ClaimMode::kStart, std::nullopt).status().code(),
            absl::StatusCode::kUnauthenticated);
}

// Redis memory per session for a 4 KB state: the target is 1.2x the
// checkpoint (tests/bench reports it); here only a generous bound.
TEST_F(SessionDirectoryTest, RedisMemoryPerSessionStaysNearTheCheckpointSize) {
  constexpr int kSessions = 1000;
  ::rnnserve::v1::SessionState proto;
  proto.mutable_model()->set_name("lstm");
  proto.mutable_model()->set_version(1);
  proto.set_fingerprint("sha256:" + std::string(64, 'a'));
  proto.set_steps(1234);
  proto.set_state(std::string(4096, '\x3f'));  // 1024 float32 values.
  std::vector<Checkpoint> batch;
  for (int i = 0; i < kSessions; ++i) {
    const std::string id = absl::StrCat("0f8fad5b-d9cb-469f-a165-", 700000000000 + i);
    proto.set_session_id(id);
    batch.push_back({id, 1, 1234, proto.SerializeAsString()});
  }
  const size_t checkpoint_bytes = batch.front().state.size();
  // A first batch, deleted again, so what stays counted is the records alone:
  // the scripts are loaded and the connection's query buffer has grown to a
  // batch's size by then.
  std::vector<Checkpoint> warm_up(batch.begin(), batch.begin() + 256);
  for (Checkpoint& checkpoint : warm_up) checkpoint.session_id += "-warm-up";
  ASSERT_TRUE(me_->WriteCheckpoints(warm_up).ok());
  std::vector<std::pair<std::string, int64_t>> forget;
  for (const Checkpoint& checkpoint : warm_up) forget.emplace_back(checkpoint.session_id, 1);
  ASSERT_TRUE(me_->Forget(forget).ok());
  const int64_t before = InfoField("memory", "used_memory");
  for (size_t i = 0; i < batch.size(); i += 256) {
    const size_t n = std::min<size_t>(256, batch.size() - i);
    ASSERT_TRUE(me_->WriteCheckpoints(absl::MakeConstSpan(batch).subspan(i, n)).ok());
  }
  const int64_t after = InfoField("memory", "used_memory");
  ASSERT_GT(before, 0);
  ASSERT_EQ(Raw({"DBSIZE"}).integer, kSessions);
  const double per_session = static_cast<double>(after - before) / kSessions;
  const double ratio = per_session / static_cast<double>(checkpoint_bytes);
  const std::string first_key = "test:s:" + batch[0].session_id;
  // jemalloc rounds a value of 4..5 KB up to its 5120-byte size class, so a
  // 4 KB state costs about 1.25x whatever the record adds.
  std::cout << "Redis memory per session: " << per_session << " bytes for a " << checkpoint_bytes
            << "-byte checkpoint of a " << proto.state().size() << "-byte state (" << ratio
            << "x the checkpoint; MEMORY USAGE of one record: "
            << Raw({"MEMORY", "USAGE", first_key}).integer << ")\n";
  EXPECT_LT(ratio, 2.0);
}

}  // namespace
}  // namespace rnnserve::cluster
