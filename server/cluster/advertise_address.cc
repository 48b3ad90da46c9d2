#include "server/cluster/advertise_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace rnnserve::cluster {
namespace {

bool IsWildcard(const std::string& host) {
  return host.empty() || host == "0.0.0.0" || host == "[::]" || host == "::" || host == "*";
}

// A port nothing listens on at `host` now (IPv4 literal or not: loopback is
// asked then): bound to port 0, read back, released. A race with another
// process taking it first fails the listen loudly, never silently.
absl::StatusOr<int> FreePort(const std::string& host) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket() failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = 0;
  if (inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  }
  socklen_t size = sizeof(address);
  const bool bound = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                     getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0;
  close(fd);
  if (!bound) return absl::UnavailableError(absl::StrCat("no free port on ", host));
  return ntohs(address.sin_port);
}

}  // namespace

absl::StatusOr<ReplicaAddress> ResolveReplicaAddress(const std::string& listen,
                                                     const std::string& advertise) {
  const size_t colon = listen.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("--listen is \"", listen, "\"; want HOST:PORT"));
  }
  const std::string host = listen.substr(0, colon);
  ReplicaAddress address{listen, advertise};
  if (port == 0) {
    absl::StatusOr<int> free = FreePort(host);
    if (!free.ok()) return free.status();
    port = *free;
    address.listen = absl::StrCat(host, ":", port);
  }
  if (address.advertise.empty()) {
    if (IsWildcard(host)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--listen is the wildcard ", listen,
                       ": with --session_store, set --advertise to the "
                       "HOST:PORT the other replicas reach this one at (in Kubernetes: $(POD_IP):",
                       port, ")"));
    }
    address.advertise = address.listen;
  }
  if (address.advertise.find_first_of(" \n") != std::string::npos ||
      address.advertise.rfind(':') == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--advertise is \"", address.advertise, "\"; want HOST:PORT"));
  }
  return address;
}

}  // namespace rnnserve::cluster
