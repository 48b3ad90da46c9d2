// PeerClient keeps a channel only to peers it can reach: one that answers is
// kept for the next pull, one found unreachable is forgotten (pod addresses
// come and go; a kept channel would reconnect every second for ever).
#include "server/cluster/peer_client.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/common/redis_server.h"
#include "tests/common/server_process.h"
#include "tests/server/test_server.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::testing::RedisServer;

// An address on 127.0.0.1 where nothing listens.
std::string NobodyListening() {
  return absl::StrCat("127.0.0.1:", ::rnnserve::testing::UnusedPort());
}

v1::TakeSessionRequest TakeOf(const std::string& id) {
  v1::TakeSessionRequest request;
  request.set_session_id(id);
  request.set_epoch(1);
  request.set_new_owner("127.0.0.1:1");
  return request;
}

TEST(PeerClientTest, KeepsTheChannelOfAPeerThatAnswersAndForgetsUnreachableOnes) {
  absl::StatusOr<std::unique_ptr<RedisServer>> redis = RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status();
  auto peer = std::make_unique<TestServer>(
      SessionStore::Options{}, "peer", 16 << 20, "",
      SessionStoreOptions{.url = (*redis)->url(), .checkpoint_interval = absl::Seconds(1)});
  const std::string peer_address = absl::StrCat("127.0.0.1:", peer->server->port());
  cluster::PeerClient client("", absl::Seconds(5));

  // It answers (it does not hold the session): the channel is kept.
  EXPECT_EQ(client.TakeSession(peer_address, TakeOf("absent")).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(client.channels(), 1);
  // Peers where nothing listens: each call fails, and leaves no channel.
  for (int i = 0; i < 3; ++i) {
    const absl::Status gone = client.TakeSession(NobodyListening(), TakeOf("s")).status();
    EXPECT_TRUE(cluster::PeerUnreachable(gone)) << gone;
  }
  EXPECT_EQ(client.channels(), 1);
  EXPECT_EQ(client.TakeSession(peer_address, TakeOf("absent")).status().code(),
            absl::StatusCode::kNotFound)
      << "the kept channel still works";

  // The peer goes: its channel goes with the first call that finds it gone.
  peer.reset();
  EXPECT_TRUE(cluster::PeerUnreachable(client.TakeSession(peer_address, TakeOf("s")).status()));
  EXPECT_EQ(client.channels(), 0);
}

}  // namespace
}  // namespace rnnserve::server
