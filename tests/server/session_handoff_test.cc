// HandOffSessions from a store to a real server on loopback: every session
// arrives with its steps and state and is ended here; with nowhere to go, or
// no time left, every session stays. WaitUntilNotListening against a socket
// the test opens and closes. (The whole shutdown: RnnServerTest.Handoff*.)
#include "server/session_handoff.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/rnn_server.h"
#include "tests/common/server_process.h"
#include "tests/model/test_util.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::MakeTestRepository;

class SessionHandoffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = MakeTestRepository(
        std::string("handoff_") + ::testing::UnitTest::GetInstance()->current_test_info()->name(),
        {{"gru_2layer", "gru/1"}});
    absl::StatusOr<std::unique_ptr<ServedModels>> models = ServedModels::Load(root_, 1000, nullptr);
    ASSERT_TRUE(models.ok()) << models.status();
    models_ = *std::move(models);
    // Session i has i + 1 steps and a state that is its own.
    const ServedModelPtr gru = *models_->Find("gru", 0);
    for (int i = 0; i < kSessions; ++i) {
      SessionPtr session = *store_.Start(Id(i), gru->ref(), absl::Now());
      absl::MutexLock lock(&session->mu());
      for (int64_t j = 0; j < gru->loaded.stack->state_size(); ++j) {
        session->state()[j] = static_cast<float>(i) + 0.5f * static_cast<float>(j);
      }
      session->AddSteps(i + 1);
    }
  }

  static std::string Id(int i) { return absl::StrCat("moving-", i); }

  static constexpr int kSessions = 20;
  std::string root_;
  std::unique_ptr<ServedModels> models_;
  SessionStore store_{SessionStore::Options{}};
};

TEST_F(SessionHandoffTest, EverySessionArrivesWithItsStepsAndStateAndIsEndedHere) {
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.models = root_;
  absl::StatusOr<std::unique_ptr<RnnServer>> target = RnnServer::Start(options);
  ASSERT_TRUE(target.ok()) << target.status();
  const HandoffResult result =
      HandOffSessions(store_, *models_,
                      {.target = absl::StrCat("127.0.0.1:", (*target)->port()),
                       .deadline = absl::Now() + absl::Seconds(30)});
  EXPECT_EQ(result.moved, kSessions);
  EXPECT_EQ(result.failed, 0);
  EXPECT_EQ(store_.size(), 0);
  ASSERT_EQ((*target)->sessions().size(), kSessions);
  for (int i = 0; i < kSessions; ++i) {
    absl::StatusOr<SessionPtr> arrived =
        (*target)->sessions().Get(Id(i), absl::Now(), SessionStore::Use::kLookOnly);
    ASSERT_TRUE(arrived.ok()) << arrived.status();
    absl::MutexLock lock(&(*arrived)->mu());
    EXPECT_EQ((*arrived)->step_count(), i + 1);
    for (int64_t j = 0; j < (*arrived)->model().stack->state_size(); ++j) {
      ASSERT_EQ((*arrived)->state()[j], static_cast<float>(i) + 0.5f * static_cast<float>(j))
          << Id(i) << " value " << j;
    }
  }
}

TEST_F(SessionHandoffTest, WithNowhereToGoEverySessionStays) {
  const HandoffResult result =
      HandOffSessions(store_, *models_,
                      {.target = absl::StrCat("127.0.0.1:", rnnserve::testing::UnusedPort()),
                       .deadline = absl::Now() + absl::Seconds(30)});
  EXPECT_EQ(result.moved, 0);
  EXPECT_EQ(result.failed, kSessions);
  EXPECT_EQ(store_.size(), kSessions);
}

TEST_F(SessionHandoffTest, WithNoTimeLeftEverySessionStays) {
  const HandoffResult result = HandOffSessions(
      store_, *models_, {.target = "127.0.0.1:1", .deadline = absl::Now() - absl::Seconds(1)});
  EXPECT_EQ(result.moved, 0);
  EXPECT_EQ(store_.size(), kSessions);
}

// A socket listening on a free loopback port with `backlog`; the tests
// never accept. Its fd and address, or fd -1.
struct Listener {
  int fd = -1;
  sockaddr_in address{};
};
Listener ListenOnLoopback(int backlog) {
  Listener l;
  l.fd = socket(AF_INET, SOCK_STREAM, 0);
  l.address.sin_family = AF_INET;
  l.address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(l.address);
  if (bind(l.fd, reinterpret_cast<sockaddr*>(&l.address), sizeof(l.address)) != 0 ||
      listen(l.fd, backlog) != 0 ||
      getsockname(l.fd, reinterpret_cast<sockaddr*>(&l.address), &length) != 0) {
    close(l.fd);
    l.fd = -1;
  }
  return l;
}

TEST(WaitUntilNotListeningTest, FalseWhileSomethingListensTrueOnceItStops) {
  // A backlog long enough for every probe: the test never accepts them.
  const Listener listener = ListenOnLoopback(1024);
  ASSERT_GE(listener.fd, 0);
  const int fd = listener.fd;
  const int port = ntohs(listener.address.sin_port);
  EXPECT_FALSE(WaitUntilNotListening("0.0.0.0:0", port, absl::Now() + absl::Milliseconds(200)));
  close(fd);
  EXPECT_TRUE(WaitUntilNotListening("127.0.0.1:0", port, absl::Now() + absl::Seconds(10)));
}

// A listener whose backlog is full drops further connects unanswered; the
// probe must still come back by its deadline (a blocking connect waited out
// the kernel's SYN retries, about two minutes) and say "still listening".
TEST(WaitUntilNotListeningTest, AFullBacklogStillListensAndTheWaitEndsAtItsDeadline) {
  const Listener listener = ListenOnLoopback(0);
  ASSERT_GE(listener.fd, 0);
  const int fd = listener.fd;
  sockaddr_in address = listener.address;
  // Fill the backlog with connections nobody accepts.
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    const int filler = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(filler, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    fillers.push_back(filler);
  }
  const absl::Time start = absl::Now();
  EXPECT_FALSE(WaitUntilNotListening("127.0.0.1:0", ntohs(address.sin_port),
                                     start + absl::Milliseconds(300)));
  // Bounded by the deadline plus one probe, not by the kernel's retries.
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
  for (int filler : fillers) close(filler);
  close(fd);
}

}  // namespace
}  // namespace rnnserve::server
