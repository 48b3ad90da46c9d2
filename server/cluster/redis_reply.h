// A Redis command and its reply, as RedisConnection sends and returns them.
#ifndef RNNSERVE_SERVER_CLUSTER_REDIS_REPLY_H_
#define RNNSERVE_SERVER_CLUSTER_REDIS_REPLY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace rnnserve::cluster {

// One reply, copied out of hiredis so it owns its bytes. Redis error replies
// ("-NOSCRIPT ...") are replies of type kError, not a failed Status: the
// caller decides what they mean.
struct RedisReply {
  enum class Type { kString, kArray, kInteger, kNil, kStatus, kError };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus and kError.
  int64_t integer = 0;
  std::vector<RedisReply> elements;  // kArray.
};

// One command as its arguments, sent binary-safe (no formatting, no quoting).
// The views must outlive the call that sends them.
using RedisCommand = std::vector<absl::string_view>;

}  // namespace rnnserve::cluster

#endif  // RNNSERVE_SERVER_CLUSTER_REDIS_REPLY_H_
