#include "client/bench/metrics_scraper.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace rnnserve::client::bench {
namespace {

// Closes the socket on every path.
class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Waits until `fd` is ready for `events` or `deadline` passes.
bool WaitFor(int fd, short events, absl::Time deadline) {
  while (true) {
    const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0) return false;
    pollfd p{.fd = fd, .events = events, .revents = 0};
    const int n = poll(&p, 1, static_cast<int>(std::min<int64_t>(ms, 1 << 30)));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

}  // namespace

absl::StatusOr<std::string> FetchMetrics(const std::string& host_port, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const size_t colon = host_port.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("--metrics=", host_port, ": want HOST:PORT"));
  }
  std::string host = host_port.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  const std::string port = host_port.substr(colon + 1);
  auto unavailable = [&](absl::string_view why) {
    return absl::UnavailableError(absl::StrCat("metrics at http://", host_port, "/metrics: ", why));
  };

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addresses = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &addresses); rc != 0) {
    return unavailable(gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(addresses, freeaddrinfo);
  Socket socket(::socket(addresses->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (socket.fd() < 0) return unavailable(strerror(errno));
  if (connect(socket.fd(), addresses->ai_addr, addresses->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) return unavailable(strerror(errno));
    if (!WaitFor(socket.fd(), POLLOUT, deadline)) return unavailable("connect timed out");
    int error = 0;
    socklen_t length = sizeof(error);
    getsockopt(socket.fd(), SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) return unavailable(strerror(error));
  }
  const std::string request =
      absl::StrCat("GET /metrics HTTP/1.0\r\nHost: ", host_port, "\r\nConnection: close\r\n\r\n");
  size_t written = 0;
  while (written < request.size()) {
    if (!WaitFor(socket.fd(), POLLOUT, deadline)) return unavailable("send timed out");
    const ssize_t n =
        send(socket.fd(), request.data() + written, request.size() - written, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return unavailable(strerror(errno));
    if (n > 0) written += static_cast<size_t>(n);
  }
  std::string response;
  char buffer[16384];
  while (true) {
    if (!WaitFor(socket.fd(), POLLIN, deadline)) return unavailable("read timed out");
    const ssize_t n = recv(socket.fd(), buffer, sizeof(buffer), 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return unavailable(strerror(errno));
    }
    response.append(buffer, static_cast<size_t>(n));
  }
  const size_t body = response.find("\r\n\r\n");
  const absl::string_view status_line =
      absl::string_view(response).substr(0, response.find("\r\n"));
  if (body == std::string::npos || !absl::StrContains(status_line, " 200")) {
    return unavailable(absl::StrCat("answered \"", status_line, "\""));
  }
  return response.substr(body + 4);
}

absl::StatusOr<double> MetricValue(absl::string_view exposition, absl::string_view name) {
  double sum = 0;
  bool found = false;
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    if (!absl::StartsWith(line, name) || line.size() <= name.size()) continue;
    const char next = line[name.size()];
    if (next != ' ' && next != '{') continue;  // another metric with this prefix
    absl::string_view rest = line.substr(name.size());
    if (next == '{') {
      const size_t close = rest.find('}');
      if (close == absl::string_view::npos) continue;
      rest = rest.substr(close + 1);
    }
    // "value [timestamp]"
    const std::vector<absl::string_view> fields = absl::StrSplit(rest, ' ', absl::SkipEmpty());
    double value;
    if (fields.empty() || !absl::SimpleAtod(fields[0], &value)) continue;
    sum += value;
    found = true;
  }
  if (!found) return absl::NotFoundError(absl::StrCat("no ", name, " in the metrics"));
  return sum;
}

}  // namespace rnnserve::client::bench
