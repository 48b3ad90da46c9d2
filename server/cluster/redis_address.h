// Where the session store's Redis is, from its URL (--session_store).
#ifndef RNNSERVE_SERVER_CLUSTER_REDIS_ADDRESS_H_
#define RNNSERVE_SERVER_CLUSTER_REDIS_ADDRESS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rnnserve::cluster {

struct RedisAddress {
  std::string host;
  int port = 6379;
  int db = 0;
};

// "redis://HOST:PORT[/DB]" (HOST may be a name, an IPv4 address or a
// bracketed IPv6 one; PORT 1..65535; DB 0..15 digits). INVALID_ARGUMENT with
// the URL and the accepted form otherwise. No credentials in the URL: the
// password comes from a file (--session_store_password_file).
absl::StatusOr<RedisAddress> ParseRedisUrl(absl::string_view url);

}  // namespace rnnserve::cluster

#endif  // RNNSERVE_SERVER_CLUSTER_REDIS_ADDRESS_H_
