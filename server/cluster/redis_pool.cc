#include "server/cluster/redis_pool.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace rnnserve::cluster {

RedisPool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_), connection_(std::move(other.connection_)) {}

RedisPool::Lease& RedisPool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    Return();
    pool_ = other.pool_;
    connection_ = std::move(other.connection_);
  }
  return *this;
}

RedisPool::Lease::~Lease() { Return(); }

void RedisPool::Lease::Return() {
  if (connection_ != nullptr) pool_->Release(std::move(connection_));
}

RedisPool::RedisPool(RedisOptions options, RedisPoolOptions pool_options)
    : options_(std::move(options)), pool_options_(pool_options) {}

RedisPool::~RedisPool() {
  absl::MutexLock lock(&mu_);
  CHECK_EQ(open_, static_cast<int>(idle_.size())) << "a RedisPool lease outlived its pool";
}

absl::StatusOr<RedisPool::Lease> RedisPool::Acquire() {
  std::vector<std::unique_ptr<RedisConnection>> dead;  // Closed outside the lock.
  {
    absl::MutexLock lock(&mu_);
    const auto can_proceed = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !idle_.empty() || open_ < pool_options_.max_connections;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&can_proceed), options_.command_timeout)) {
      return absl::UnavailableError(absl::StrCat("all ", pool_options_.max_connections,
                                                 " Redis connections stayed busy for ",
                                                 absl::FormatDuration(options_.command_timeout)));
    }
    while (!idle_.empty()) {
      std::unique_ptr<RedisConnection> connection = std::move(idle_.back());
      idle_.pop_back();
      if (connection->LooksAlive()) return Lease(this, std::move(connection));
      --open_;
      dead.push_back(std::move(connection));
    }
    if (absl::Now() < retry_connect_after_) return last_connect_error_;
    ++open_;  // Reserves the slot while connecting without the lock.
  }
  dead.clear();
  absl::StatusOr<std::unique_ptr<RedisConnection>> connection = RedisConnection::Connect(options_);
  absl::MutexLock lock(&mu_);
  if (!connection.ok()) {
    --open_;
    last_connect_error_ = connection.status();
    retry_connect_after_ = absl::Now() + pool_options_.reconnect_backoff;
    return connection.status();
  }
  retry_connect_after_ = absl::InfinitePast();
  return Lease(this, *std::move(connection));
}

void RedisPool::Release(std::unique_ptr<RedisConnection> connection) {
  if (connection->broken()) {
    connection.reset();  // Closed before taking the lock.
    absl::MutexLock lock(&mu_);
    --open_;
    return;
  }
  absl::MutexLock lock(&mu_);
  idle_.push_back(std::move(connection));
}

}  // namespace rnnserve::cluster
