// A small thread-safe pool of connections to the Redis that holds the session
// directory (redis_connection.h makes them).
#ifndef RNNSERVE_SERVER_CLUSTER_REDIS_POOL_H_
#define RNNSERVE_SERVER_CLUSTER_REDIS_POOL_H_

#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/cluster/redis_connection.h"

namespace rnnserve::cluster {

struct RedisPoolOptions {
  int max_connections = 8;
  // After a failed connect, Acquire() fails fast with that error for this
  // long instead of connecting again, so a hot path is not flooded with
  // connects (and their timeouts) while Redis is down.
  absl::Duration reconnect_backoff = absl::Milliseconds(100);
};

// Lends connections to one Redis; thread-safe. At most max_connections are
// open; a lease returns its connection when destroyed, unless the connection
// broke, in which case it is closed and the next Acquire() makes a new one.
// Connects happen outside the pool's lock.
class RedisPool {
 public:
  // A borrowed connection; movable, returns it to the pool when destroyed.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    ~Lease();
    RedisConnection& operator*() const { return *connection_; }
    RedisConnection* operator->() const { return connection_.get(); }

   private:
    friend class RedisPool;
    Lease(RedisPool* pool, std::unique_ptr<RedisConnection> connection)
        : pool_(pool), connection_(std::move(connection)) {}
    void Return();
    RedisPool* pool_;  // Not owned; outlives the lease.
    std::unique_ptr<RedisConnection> connection_;
  };

  explicit RedisPool(RedisOptions options, RedisPoolOptions pool_options = {});
  ~RedisPool();  // REQUIRES: no lease outstanding.
  RedisPool(const RedisPool&) = delete;
  RedisPool& operator=(const RedisPool&) = delete;

  // An idle connection, or a new one. Connect's errors (UNAVAILABLE,
  // UNAUTHENTICATED), repeated without connecting within reconnect_backoff;
  // UNAVAILABLE when all max_connections stay lent out for command_timeout.
  absl::StatusOr<Lease> Acquire();

  const RedisOptions& options() const { return options_; }

 private:
  void Release(std::unique_ptr<RedisConnection> connection);

  const RedisOptions options_;
  const RedisPoolOptions pool_options_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<RedisConnection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;  // Idle, lent out or connecting.
  absl::Time retry_connect_after_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Status last_connect_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rnnserve::cluster

#endif  // RNNSERVE_SERVER_CLUSTER_REDIS_POOL_H_
