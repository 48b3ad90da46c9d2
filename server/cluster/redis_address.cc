#include "server/cluster/redis_address.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace rnnserve::cluster {
namespace {

constexpr char kUrlForm[] = "want redis://HOST:PORT[/DB], e.g. redis://redis:6379/0";

absl::Status BadUrl(absl::string_view url, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("session store URL '", url, "': ", why, "; ", kUrlForm));
}

}  // namespace

absl::StatusOr<RedisAddress> ParseRedisUrl(absl::string_view url) {
  constexpr absl::string_view kScheme = "redis://";
  if (!absl::StartsWith(url, kScheme)) return BadUrl(url, "no redis:// scheme");
  absl::string_view rest = url.substr(kScheme.size());
  RedisAddress address;
  const size_t slash = rest.find('/');
  if (slash != absl::string_view::npos) {
    const absl::string_view db = rest.substr(slash + 1);
    if (db.empty() || db.size() > 5 || !absl::SimpleAtoi(db, &address.db) || address.db < 0 ||
        db.find_first_not_of("0123456789") != absl::string_view::npos) {
      return BadUrl(url, "the database is not a number");
    }
    rest = rest.substr(0, slash);
  }
  if (rest.find('@') != absl::string_view::npos) {
    return BadUrl(url, "credentials do not go in the URL (use --session_store_password_file)");
  }
  size_t colon;
  if (absl::StartsWith(rest, "[")) {  // [IPv6]:PORT
    const size_t close = rest.find(']');
    if (close == absl::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      return BadUrl(url, "an IPv6 host needs ]:PORT after it");
    }
    address.host = std::string(rest.substr(1, close - 1));
    colon = close + 1;
  } else {
    colon = rest.rfind(':');
    if (colon == absl::string_view::npos) return BadUrl(url, "no :PORT");
    address.host = std::string(rest.substr(0, colon));
    if (address.host.find(':') != absl::string_view::npos) {
      return BadUrl(url, "an IPv6 host goes in brackets");
    }
  }
  if (address.host.empty()) return BadUrl(url, "no host");
  const absl::string_view port = rest.substr(colon + 1);
  if (port.empty() || port.find_first_not_of("0123456789") != absl::string_view::npos ||
      port.size() > 5 || !absl::SimpleAtoi(port, &address.port) || address.port < 1 ||
      address.port > 65535) {
    return BadUrl(url, "the port is not a number in 1..65535");
  }
  return address;
}

}  // namespace rnnserve::cluster
