#include "server/session_handoff.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "glog/logging.h"
#include "grpcpp/grpcpp.h"
#include "rnnserve/v1/sessions.grpc.pb.h"
#include "server/grpc_status.h"
#include "server/session_transfer.h"

namespace rnnserve::server {
namespace {

constexpr int kAttempts = 5;
constexpr absl::Duration kCallTimeout = absl::Seconds(5);
constexpr absl::Duration kRetryPause = absl::Milliseconds(100);
constexpr int kFailuresLogged = 5;
constexpr absl::Duration kProbeTimeout = absl::Milliseconds(200);

// Whether a TCP connect to `address` is accepted within `timeout`. A connect
// that neither succeeds nor is refused in time (a listener whose backlog is
// full drops the SYN) counts as accepted: something is still listening. A
// blocking connect would wait out the kernel's SYN retries, minutes past any
// drain deadline.
bool ConnectAccepted(const addrinfo& address, absl::Duration timeout) {
  const int fd = socket(address.ai_family, address.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        address.ai_protocol);
  if (fd < 0) return false;
  bool accepted = connect(fd, address.ai_addr, address.ai_addrlen) == 0;
  if (!accepted && errno == EINPROGRESS) {
    pollfd p{.fd = fd, .events = POLLOUT, .revents = 0};
    const int ready = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
    int error = 0;
    socklen_t length = sizeof(error);
    accepted = ready == 0 ||  // No answer in time: still listening, backlog full.
               (ready == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 &&
                error == 0);
  }
  close(fd);
  return accepted;
}

// One import, retried while the answer is UNAVAILABLE (the proxy had no
// replica for a moment, or the call still reached this server).
grpc::Status Import(v1::SessionService::Stub& stub, const v1::SessionState& state,
                    const HandoffOptions& options) {
  grpc::Status status(grpc::StatusCode::DEADLINE_EXCEEDED,
                      "the drain deadline passed before the session could move");
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    if (attempt > 0) absl::SleepFor(kRetryPause);
    const absl::Time deadline = std::min(options.deadline, absl::Now() + kCallTimeout);
    if (absl::Now() >= deadline) break;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(deadline));
    context.AddMetadata("x-session-id", state.session_id());
    if (!options.authorization.empty()) {
      context.AddMetadata("authorization", options.authorization);
    }
    v1::SessionInfo info;
    status = stub.ImportState(&context, state, &info);
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return status;
  }
  return status;
}

}  // namespace

HandoffResult HandOffSessions(SessionStore& store, const ServedModels& models,
                              const HandoffOptions& options) {
  const std::vector<SessionPtr> sessions = store.Sessions();
  const std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel(options.target, grpc::InsecureChannelCredentials());
  const std::unique_ptr<v1::SessionService::Stub> stub = v1::SessionService::NewStub(channel);
  std::atomic<size_t> next{0};
  std::atomic<int64_t> moved{0};
  std::atomic<int64_t> failed{0};
  auto move_some = [&] {
    for (size_t i = next++; i < sessions.size(); i = next++) {
      Session& session = *sessions[i];
      v1::SessionState state;
      absl::Status status = ExportSession(session, models, &state);
      if (status.ok()) status = ToAbslStatus(Import(*stub, state, options));
      if (status.ok()) {
        store.End(session.id()).IgnoreError();  // Reaped meanwhile is fine too.
        ++moved;
      } else if (failed++ < kFailuresLogged) {
        LOG(WARNING) << "handoff: session " << session.id() << " not moved to " << options.target
                     << ": " << status;
      }
    }
  };
  const int threads =
      static_cast<int>(std::clamp<size_t>(sessions.size(), 1, std::max(1, options.concurrency)));
  std::vector<std::thread> workers;
  for (int t = 1; t < threads; ++t) workers.emplace_back(move_some);
  move_some();
  for (std::thread& worker : workers) worker.join();
  return HandoffResult{moved.load(), failed.load()};
}

bool WaitUntilNotListening(const std::string& listen, int port, absl::Time deadline) {
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), absl::StrCat(port).c_str(), &hints, &found) != 0) return true;
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, &freeaddrinfo);
  while (true) {
    bool accepted = false;
    const absl::Duration timeout =
        std::clamp(deadline - absl::Now(), absl::Milliseconds(1), kProbeTimeout);
    for (const addrinfo* a = addresses.get(); a != nullptr && !accepted; a = a->ai_next) {
      accepted = ConnectAccepted(*a, timeout);
    }
    if (!accepted) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
}

}  // namespace rnnserve::server
