#include "tests/common/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

extern char** environ;

namespace rnnserve::testing {
namespace {

// The number after `marker` on a line of `log`, or 0.
int PortAfter(const std::string& log, const std::string& marker) {
  const size_t at = log.find(marker);
  if (at == std::string::npos) return 0;
  size_t end = at + marker.size();
  while (end < log.size() && isdigit(static_cast<unsigned char>(log[end]))) ++end;
  int port = 0;
  return absl::SimpleAtoi(log.substr(at + marker.size(), end - at - marker.size()), &port) ? port
                                                                                         : 0;
}

std::string NewLogPath() {
  static std::atomic<int> next{0};
  const char* tmp = getenv("TMPDIR");
  return absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/rnnserve_test_", getpid(), "_", next++,
                      ".log");
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(
    const std::vector<std::string>& flags, absl::Duration startup, const std::string& binary) {
  const std::string program =
      binary.empty() ? std::string(RNNSERVE_BIN_DIR) + "/rnnserve" : binary;
  // No HTTP listener unless a test asks for one (a later --http_listen wins):
  // its default, 127.0.0.1:8000, is one port for every process.
  std::vector<std::string> args = {program, "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0",
                                   "--http_listen="};
  args.insert(args.end(), flags.begin(), flags.end());
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  const std::string log_path = NewLogPath();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    return absl::InternalError(absl::StrCat("cannot run ", program, ": ", strerror(spawned)));
  }
  std::unique_ptr<ServerProcess> process(new ServerProcess(pid, log_path));
  // The last --metrics_listen wins; empty: the server serves no metrics.
  const auto metrics_flag = std::find_if(args.rbegin(), args.rend(), [](const std::string& arg) {
    return arg.rfind("--metrics_listen=", 0) == 0;
  });
  const bool serves_metrics = metrics_flag == args.rend() || *metrics_flag != "--metrics_listen=";
  const absl::Time give_up = absl::Now() + startup;
  while (absl::Now() < give_up) {
    const std::string log = process->Log();
    process->port_ = PortAfter(log, "(port ");
    process->metrics_port_ = PortAfter(log, "serving /metrics on port ");
    if (process->port_ != 0 && (process->metrics_port_ != 0 || !serves_metrics)) return process;
    if (process->Wait(absl::ZeroDuration()) != -1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::UnavailableError(
      absl::StrCat(program, " did not log its ports in time; its log:\n", process->Log()));
}

ServerProcess::~ServerProcess() {
  if (!exited_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  unlink(log_path_.c_str());
}

std::string ServerProcess::address() const { return absl::StrCat("127.0.0.1:", port_); }

void ServerProcess::Signal(int signal_number) const {
  if (!exited_) kill(pid_, signal_number);
}

int ServerProcess::Wait(absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  while (!exited_) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (absl::Now() >= give_up) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return exit_code_;
}

std::string ServerProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

int UnusedPort() {
  // Below the kernel's ephemeral range (ip_local_port_range, 32768 up by
  // default), from which every listener on port 0 and every outgoing
  // connection takes its port: a port from that range, free when asked,
  // was taken by a replica's connection before nginx bound it (a cluster
  // test failed so under ctest -j2). Random, so tests running at once do
  // not try the same ports; bound once to check that it is free now.
  constexpr int kFirst = 20000;
  constexpr int kLast = 32767;
  static std::atomic<uint64_t> draw{static_cast<uint64_t>(getpid()) * 2654435761u +
                                    static_cast<uint64_t>(absl::GetCurrentTimeNanos())};
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const uint64_t x = draw.fetch_add(0x9E3779B97F4A7C15u) * 0xBF58476D1CE4E5B9u;
    const int port = kFirst + static_cast<int>((x >> 33) % (kLast - kFirst + 1));
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    const bool free = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    close(fd);
    if (free) return port;
  }
  std::fprintf(stderr, "no free port in %d..%d\n", kFirst, kLast);
  std::abort();
}

int64_t ProcStatusBytes(pid_t pid, const std::string& field) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) != 0) continue;
    std::istringstream value(line.substr(field.size()));
    int64_t kib = -1;
    value >> kib;  // "  123456 kB"
    return kib < 0 ? -1 : kib * 1024;
  }
  return -1;
}

}  // namespace rnnserve::testing
