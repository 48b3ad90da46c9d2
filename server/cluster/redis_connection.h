// Connections to the Redis that holds the session directory (ISSUE13.md,
// "Redis data model"): one blocking hiredis connection, which redis_pool.h
// lends out (the URL parser is redis_address.h). Nothing here knows about
// sessions; session_directory.h does.
#ifndef RNNSERVE_SERVER_CLUSTER_REDIS_CONNECTION_H_
#define RNNSERVE_SERVER_CLUSTER_REDIS_CONNECTION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/cluster/redis_address.h"
#include "server/cluster/redis_reply.h"

struct redisContext;  // hiredis; only the .cc includes it.

namespace rnnserve::cluster {

struct RedisOptions {
  RedisAddress address;
  std::string password;  // Empty: no AUTH.
  absl::Duration connect_timeout = absl::Milliseconds(500);
  // Applies to every send and receive; a command that times out breaks its
  // connection (the reply may still come and would answer the next command).
  absl::Duration command_timeout = absl::Milliseconds(500);
};

// One blocking connection (a hiredis context). Not thread-safe: one user at a
// time, which RedisPool arranges. Once an I/O error or timeout happened it is
// broken() for good and every later call fails fast.
class RedisConnection {
 public:
  // Connects, then AUTH (when a password is set) and SELECT (when db != 0),
  // or PING when neither, so a bad address or password shows here.
  // UNAVAILABLE when Redis is unreachable or does not answer in time,
  // UNAUTHENTICATED when it refuses the password (or asks for one).
  static absl::StatusOr<std::unique_ptr<RedisConnection>> Connect(const RedisOptions& options);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Sends every command, then reads every reply: one round trip. Replies in
  // command order. UNAVAILABLE on an I/O error or timeout (the connection is
  // then broken).
  absl::StatusOr<std::vector<RedisReply>> Pipeline(absl::Span<const RedisCommand> commands);
  absl::StatusOr<RedisReply> Command(const RedisCommand& command);

  bool broken() const { return broken_; }
  // False when the peer closed the connection while it sat idle (Redis
  // restarted), found without blocking; a cheap check before lending it out.
  bool LooksAlive() const;

 private:
  RedisConnection(redisContext* context, std::string where)
      : context_(context), where_(std::move(where)) {}
  absl::Status IoError(absl::string_view doing);

  redisContext* const context_;  // Owned.
  const std::string where_;      // "redis HOST:PORT", for messages.
  bool broken_ = false;
};

}  // namespace rnnserve::cluster

#endif  // RNNSERVE_SERVER_CLUSTER_REDIS_CONNECTION_H_
