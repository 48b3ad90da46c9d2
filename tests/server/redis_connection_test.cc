// RedisConnection and RedisPool against a real redis-server
// (tests/common/redis_server.h): URLs, credentials, timeouts, pipelining,
// binary safety, reconnecting.
#include "server/cluster/redis_connection.h"

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/cluster/redis_pool.h"
#include "tests/common/redis_server.h"
#include "tests/common/server_process.h"

namespace rnnserve::cluster {
namespace {

using ::rnnserve::testing::RedisServer;
using ::testing::HasSubstr;
using Type = RedisReply::Type;

RedisOptions OptionsFor(const RedisServer& redis, std::string password = "") {
  return RedisOptions{.address = {.host = "127.0.0.1", .port = redis.port()},
                      .password = std::move(password)};
}

// A fresh redis-server per test.
class RedisTest : public ::testing::Test {
 protected:
  void SetUp() override { StartRedis({}); }
  // Replaces redis_ (for a password, say); ASSERT_NO_FATAL_FAILURE it.
  void StartRedis(RedisServer::Options options) {
    absl::StatusOr<std::unique_ptr<RedisServer>> redis = RedisServer::Start(options);
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
  }
  absl::StatusOr<std::unique_ptr<RedisConnection>> Connect() {
    return RedisConnection::Connect(OptionsFor(*redis_));
  }
  std::unique_ptr<RedisServer> redis_;
};
using RedisConnectionTest = RedisTest;
using RedisPoolTest = RedisTest;

TEST(ParseRedisUrlTest, AcceptsHostPortAndDatabase) {
  struct Case {
    std::string url, host;
    int port, db;
  };
  for (const Case& c : std::vector<Case>{
           {"redis://127.0.0.1:6379", "127.0.0.1", 6379, 0},
           {"redis://redis:6380/3", "redis", 6380, 3},
           {"redis://redis-master.prod.svc.cluster.local:1/15",
            "redis-master.prod.svc.cluster.local", 1, 15},
           {"redis://[::1]:65535/0", "::1", 65535, 0},
       }) {
    absl::StatusOr<RedisAddress> address = ParseRedisUrl(c.url);
    ASSERT_TRUE(address.ok()) << c.url << ": " << address.status();
    EXPECT_EQ(address->host, c.host) << c.url;
    EXPECT_EQ(address->port, c.port) << c.url;
    EXPECT_EQ(address->db, c.db) << c.url;
  }
}

TEST(ParseRedisUrlTest, RefusesWhatItCannotUse) {
  for (const std::string url :
       {"", "127.0.0.1:6379", "http://redis:6379", "rediss://redis:6379", "redis://redis",
        "redis://:6379", "redis://redis:", "redis://redis:0", "redis://redis:65536",
        "redis://redis:63a9", "redis://redis:-1", "redis://redis:6379/", "redis://redis:6379/x",
        "redis://redis:6379/-1", "redis://redis:6379/1/2", "redis://user:pw@redis:6379",
        "redis://::1:6379", "redis://[::1]6379", "redis://[::1]"}) {
    absl::StatusOr<RedisAddress> address = ParseRedisUrl(url);
    ASSERT_FALSE(address.ok()) << url << " parsed as " << address->host << ":" << address->port;
    EXPECT_EQ(address.status().code(), absl::StatusCode::kInvalidArgument) << url;
    EXPECT_THAT(address.status().message(), HasSubstr(absl::StrCat("'", url, "'")));
    EXPECT_THAT(address.status().message(), HasSubstr("redis://HOST:PORT[/DB]"));
  }
}

TEST_F(RedisConnectionTest, AWrongOrMissingPasswordIsUnauthenticated) {
  ASSERT_NO_FATAL_FAILURE(StartRedis({.password = "s3cret"}));
  for (const std::string password : {"wrong", ""}) {
    absl::StatusOr<std::unique_ptr<RedisConnection>> connection =
        RedisConnection::Connect(OptionsFor(*redis_, password));
    ASSERT_FALSE(connection.ok()) << "password '" << password << "'";
    EXPECT_EQ(connection.status().code(), absl::StatusCode::kUnauthenticated)
        << connection.status();
  }
  absl::StatusOr<std::unique_ptr<RedisConnection>> connection =
      RedisConnection::Connect(OptionsFor(*redis_, "s3cret"));
  ASSERT_TRUE(connection.ok()) << connection.status();
  absl::StatusOr<RedisReply> pong = (*connection)->Command({"PING"});
  ASSERT_TRUE(pong.ok()) << pong.status();
  EXPECT_EQ(pong->str, "PONG");
}

TEST_F(RedisConnectionTest, UnreachableIsUnavailableWithinTheTimeout) {
  // Nothing listens: refused at once.
  RedisOptions options{.address = {.host = "127.0.0.1", .port = rnnserve::testing::UnusedPort()}};
  absl::StatusOr<std::unique_ptr<RedisConnection>> connection = RedisConnection::Connect(options);
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(connection.status().code(), absl::StatusCode::kUnavailable) << connection.status();

  // A paused Redis: the kernel accepts the connection, nobody answers PING.
  redis_->Pause();
  options = OptionsFor(*redis_);
  options.connect_timeout = absl::Milliseconds(200);
  options.command_timeout = absl::Milliseconds(200);
  const absl::Time start = absl::Now();
  connection = RedisConnection::Connect(options);
  const absl::Duration took = absl::Now() - start;
  redis_->Resume();
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(connection.status().code(), absl::StatusCode::kUnavailable) << connection.status();
  EXPECT_THAT(connection.status().message(), HasSubstr("timed out"));
  EXPECT_LT(took, absl::Seconds(5)) << "a timeout of 200 ms was not applied";
}

TEST_F(RedisConnectionTest, ACommandThatTimesOutBreaksTheConnection) {
  RedisOptions options = OptionsFor(*redis_);
  options.command_timeout = absl::Milliseconds(200);
  absl::StatusOr<std::unique_ptr<RedisConnection>> connection = RedisConnection::Connect(options);
  ASSERT_TRUE(connection.ok()) << connection.status();
  redis_->Pause();
  absl::StatusOr<RedisReply> reply = (*connection)->Command({"PING"});
  redis_->Resume();
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
  EXPECT_TRUE((*connection)->broken());
  // The late PONG must not answer a later command: the connection stays unusable.
  EXPECT_FALSE((*connection)->Command({"PING"}).ok());
  EXPECT_FALSE((*connection)->LooksAlive());
}

TEST_F(RedisConnectionTest, APipelineAnswersInCommandOrder) {
  absl::StatusOr<std::unique_ptr<RedisConnection>> connection = Connect();
  ASSERT_TRUE(connection.ok()) << connection.status();
  std::vector<std::string> keys, values;
  for (int i = 0; i < 200; ++i) {
    keys.push_back(absl::StrCat("k", i));
    values.push_back(absl::StrCat("value ", i));
  }
  std::vector<RedisCommand> commands;
  for (int i = 0; i < 200; ++i) commands.push_back({"SET", keys[i], values[i]});
  for (int i = 0; i < 200; ++i) commands.push_back({"GET", keys[i]});
  commands.push_back({"GET", "missing"});
  commands.push_back({"INCR", "k0"});  // Not a number: an error reply, in its place.
  commands.push_back({"RPUSH", "list", "a", "b"});
  commands.push_back({"LRANGE", "list", "0", "-1"});

  absl::StatusOr<std::vector<RedisReply>> replies = (*connection)->Pipeline(commands);
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), commands.size());
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ((*replies)[i].type, Type::kStatus);
    EXPECT_EQ((*replies)[i].str, "OK");
    EXPECT_EQ((*replies)[200 + i].type, Type::kString);
    EXPECT_EQ((*replies)[200 + i].str, values[i]);
  }
  EXPECT_EQ((*replies)[400].type, Type::kNil);
  EXPECT_EQ((*replies)[401].type, Type::kError);
  EXPECT_THAT((*replies)[401].str, HasSubstr("not an integer"));
  EXPECT_EQ((*replies)[402].type, Type::kInteger);
  EXPECT_EQ((*replies)[402].integer, 2);
  ASSERT_EQ((*replies)[403].type, Type::kArray);
  ASSERT_EQ((*replies)[403].elements.size(), 2u);
  EXPECT_EQ((*replies)[403].elements[1].str, "b");
  EXPECT_FALSE((*connection)->broken());  // An error reply is no I/O error.
}

TEST_F(RedisConnectionTest, KeysAndValuesAreBinarySafe) {
  absl::StatusOr<std::unique_ptr<RedisConnection>> connection = Connect();
  ASSERT_TRUE(connection.ok()) << connection.status();
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte.push_back(static_cast<char>(b));
  std::string megabyte(1 << 20, '\0');
  for (size_t i = 0; i < megabyte.size(); ++i) megabyte[i] = static_cast<char>((i * 7919) >> 3);
  const std::string key(std::string("a\0b\r\n c", 7));
  for (const std::string& value : {every_byte, megabyte, std::string()}) {
    absl::StatusOr<std::vector<RedisReply>> replies =
        (*connection)->Pipeline({{"SET", key, value}, {"GET", key}, {"STRLEN", key}});
    ASSERT_TRUE(replies.ok()) << replies.status();
    EXPECT_EQ((*replies)[1].type, Type::kString);
    EXPECT_TRUE((*replies)[1].str == value) << "a " << value.size() << "-byte value changed";
    EXPECT_EQ((*replies)[2].integer, static_cast<int64_t>(value.size()));
  }
}

TEST_F(RedisConnectionTest, SelectsTheDatabaseOfTheUrl) {
  absl::StatusOr<RedisAddress> address = ParseRedisUrl(redis_->url() + "/3");
  ASSERT_TRUE(address.ok()) << address.status();
  absl::StatusOr<std::unique_ptr<RedisConnection>> db3 =
      RedisConnection::Connect({.address = *address});
  absl::StatusOr<std::unique_ptr<RedisConnection>> db0 =
      RedisConnection::Connect(OptionsFor(*redis_));
  ASSERT_TRUE(db3.ok()) << db3.status();
  ASSERT_TRUE(db0.ok()) << db0.status();
  ASSERT_TRUE((*db3)->Command({"SET", "where", "3"}).ok());
  EXPECT_EQ((*db0)->Command({"GET", "where"})->type, Type::kNil);
  EXPECT_EQ((*db3)->Command({"GET", "where"})->str, "3");
}

TEST_F(RedisPoolTest, ReconnectsAfterRedisRestarts) {
  RedisPool pool(OptionsFor(*redis_));
  {
    absl::StatusOr<RedisPool::Lease> lease = pool.Acquire();
    ASSERT_TRUE(lease.ok()) << lease.status();
    ASSERT_TRUE((*lease)->Command({"SET", "k", "v"}).ok());
  }
  ASSERT_TRUE(redis_->Restart().ok());
  // The idle connection saw Redis close it; the pool makes a new one rather
  // than failing the first command after the restart.
  absl::StatusOr<RedisPool::Lease> lease = pool.Acquire();
  ASSERT_TRUE(lease.ok()) << lease.status();
  absl::StatusOr<RedisReply> reply = (*lease)->Command({"GET", "k"});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->type, Type::kNil) << "a restarted Redis starts empty";
}

TEST_F(RedisPoolTest, ABrokenConnectionIsReplacedOnNextUse) {
  RedisOptions options = OptionsFor(*redis_);
  options.command_timeout = absl::Milliseconds(200);
  RedisPool pool(options, {.max_connections = 1});
  {
    absl::StatusOr<RedisPool::Lease> lease = pool.Acquire();
    ASSERT_TRUE(lease.ok()) << lease.status();
    redis_->Pause();
    EXPECT_FALSE((*lease)->Command({"PING"}).ok());
    redis_->Resume();
  }
  // With max_connections 1 this only succeeds if the broken one was closed.
  absl::StatusOr<RedisPool::Lease> lease = pool.Acquire();
  ASSERT_TRUE(lease.ok()) << lease.status();
  absl::StatusOr<RedisReply> reply = (*lease)->Command({"PING"});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->str, "PONG");
}

TEST_F(RedisPoolTest, AFailedConnectIsNotRetriedWithinTheBackoff) {
  redis_->Kill();
  // A backoff no test outlives: the second Acquire cannot have connected.
  RedisPool pool(OptionsFor(*redis_), {.reconnect_backoff = absl::Hours(1)});
  absl::StatusOr<RedisPool::Lease> lease = pool.Acquire();
  ASSERT_FALSE(lease.ok());
  EXPECT_EQ(lease.status().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(redis_->Restart().ok());
  lease = pool.Acquire();
  EXPECT_FALSE(lease.ok()) << "connected again within the backoff";

  // With the default backoff (100 ms) it connects again once Redis is back.
  RedisPool retrying(OptionsFor(*redis_));
  redis_->Kill();
  EXPECT_FALSE(retrying.Acquire().ok());
  ASSERT_TRUE(redis_->Restart().ok());
  absl::Status last;
  for (int attempt = 0; attempt < 100; ++attempt) {  // At most ~5 s.
    absl::StatusOr<RedisPool::Lease> again = retrying.Acquire();
    if (again.ok()) break;
    last = again.status();
    absl::SleepFor(absl::Milliseconds(50));
    ASSERT_LT(attempt, 99) << "never reconnected: " << last;
  }
}

TEST_F(RedisPoolTest, LendsAtMostMaxConnections) {
  RedisOptions options = OptionsFor(*redis_);
  options.command_timeout = absl::Milliseconds(100);
  RedisPool pool(options, {.max_connections = 2});
  absl::StatusOr<RedisPool::Lease> first = pool.Acquire();
  absl::StatusOr<RedisPool::Lease> second = pool.Acquire();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  absl::StatusOr<RedisPool::Lease> third = pool.Acquire();
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(third.status().message(), HasSubstr("busy"));
  { RedisPool::Lease returned = *std::move(first); }
  third = pool.Acquire();
  EXPECT_TRUE(third.ok()) << third.status();
}

TEST_F(RedisPoolTest, ThreadsShareThePool) {
  RedisOptions options = OptionsFor(*redis_);
  options.command_timeout = absl::Seconds(5);  // Waiting for a busy connection on a busy machine.
  RedisPool pool(options, {.max_connections = 3});
  constexpr int kThreads = 8;
  constexpr int kIncrements = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        absl::StatusOr<RedisPool::Lease> lease = pool.Acquire();
        if (!lease.ok() || !(*lease)->Command({"INCR", "counter"}).ok()) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  absl::StatusOr<RedisPool::Lease> lease = pool.Acquire();
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ((*lease)->Command({"GET", "counter"})->str, absl::StrCat(kThreads * kIncrements));
  absl::StatusOr<RedisReply> clients = (*lease)->Command({"CLIENT", "LIST"});
  ASSERT_TRUE(clients.ok()) << clients.status();
  EXPECT_LE(std::count(clients->str.begin(), clients->str.end(), '\n'), 3) << clients->str;
}

}  // namespace
}  // namespace rnnserve::cluster
