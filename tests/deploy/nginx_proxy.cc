#include "tests/deploy/nginx_proxy.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

extern char** environ;

namespace rnnserve::testing {
namespace {

// The address the shipped config gives the proxy, and the first replica's,
// whose server line is the template of every replica's.
constexpr char kShippedListen[] = "127.0.0.1:50050";
constexpr char kShippedFirstReplica[] = "127.0.0.1:50051";

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

int Occurrences(const std::string& text, const std::string& what) {
  int count = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++count;
  }
  return count;
}

// nginx logs these once per worker it starts (at startup and on each
// reload) and once per worker that exits.
constexpr char kWorkerStarted[] = "start worker process ";
constexpr char kWorkerExited[] = " exited with code ";

}  // namespace

bool NginxProxy::Installed() { return std::filesystem::exists(kBinary); }

absl::StatusOr<std::unique_ptr<NginxProxy>> NginxProxy::Start(
    int port, const std::vector<int>& replica_ports) {
  static std::atomic<int> next{0};
  std::unique_ptr<NginxProxy> proxy(
      new NginxProxy(port, absl::StrCat(::testing::TempDir(), "/nginx_", getpid(), "_", next++)));
  std::filesystem::remove_all(proxy->prefix_);
  std::filesystem::create_directories(proxy->prefix_);
  proxy->shipped_ = ReadText(std::string(RNNSERVE_SOURCE_DIR) + "/deploy/proxy/nginx.conf");
  for (absl::string_view line : absl::StrSplit(proxy->shipped_, '\n')) {
    if (absl::ConsumePrefix(&line, "worker_processes ")) {
      absl::SimpleAtoi(absl::StripSuffix(line, ";"), &proxy->workers_);
    }
  }
  if (absl::Status written = proxy->WriteConfig(replica_ports); !written.ok()) return written;

  const std::string config_path = proxy->prefix_ + "/nginx.conf";
  std::vector<std::string> args = {kBinary,     "-p", proxy->prefix_, "-c",
                                   config_path, "-g", "daemon off;"};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string log = proxy->prefix_ + "/stderr.log";
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int spawned = posix_spawn(&proxy->pid_, kBinary, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    proxy->pid_ = 0;
    return absl::InternalError(absl::StrCat("cannot run ", kBinary, ": ", strerror(spawned)));
  }
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (Occurrences(proxy->Log(), kWorkerStarted) == 0) {
    if (!proxy->running() || absl::Now() > give_up) {
      return absl::UnavailableError(absl::StrCat("nginx did not start; its log:\n", proxy->Log()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return proxy;
}

NginxProxy::~NginxProxy() {
  if (pid_ > 0) {
    kill(pid_, SIGQUIT);
    const absl::Time give_up = absl::Now() + absl::Seconds(10);
    while (waitpid(pid_, nullptr, WNOHANG) == 0) {
      if (absl::Now() > give_up) {
        // Its workers die with it: they watch the master's pipe.
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  std::filesystem::remove_all(prefix_);
}

absl::Status NginxProxy::WriteConfig(const std::vector<int>& replica_ports) const {
  std::vector<std::string> lines = absl::StrSplit(shipped_, '\n');
  std::vector<std::string> out;
  bool replaced = false;
  for (const std::string& line : lines) {
    const absl::string_view text = absl::StripLeadingAsciiWhitespace(line);
    if (!absl::StartsWith(text, "server 127.0.0.1:")) {
      out.push_back(absl::StrReplaceAll(line, {{kShippedListen, address()}}));
      continue;
    }
    if (replaced) continue;  // the shipped replicas after the first
    if (!absl::StrContains(line, kShippedFirstReplica)) {
      return absl::FailedPreconditionError(
          absl::StrCat("deploy/proxy/nginx.conf: its first upstream server is not ",
                       kShippedFirstReplica, ": ", line));
    }
    for (int port : replica_ports) {
      out.push_back(
          absl::StrReplaceAll(line, {{kShippedFirstReplica, absl::StrCat("127.0.0.1:", port)}}));
    }
    replaced = true;
  }
  if (!replaced) {
    return absl::FailedPreconditionError(
        "deploy/proxy/nginx.conf has no upstream line 'server 127.0.0.1:PORT ...' to rewrite");
  }
  std::ofstream(prefix_ + "/nginx.conf") << absl::StrJoin(out, "\n");
  return absl::OkStatus();
}

absl::Status NginxProxy::SetReplicas(const std::vector<int>& replica_ports) {
  if (absl::Status written = WriteConfig(replica_ports); !written.ok()) return written;
  const int workers_before = Occurrences(Log(), kWorkerStarted);
  kill(pid_, SIGHUP);
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (Occurrences(Log(), kWorkerStarted) == workers_before) {
    if (!running() || absl::Now() > give_up) {
      return absl::UnavailableError(absl::StrCat("nginx did not reload with upstream ",
                                                 absl::StrJoin(replica_ports, ","), "; its log:\n",
                                                 Log()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return absl::OkStatus();
}

absl::Status NginxProxy::WaitForOldWorkers(absl::Duration timeout) const {
  const absl::Time give_up = absl::Now() + timeout;
  while (true) {
    const std::string log = Log();
    if (Occurrences(log, kWorkerStarted) - Occurrences(log, kWorkerExited) <= workers_) {
      return absl::OkStatus();
    }
    if (absl::Now() > give_up) {
      return absl::UnavailableError(
          absl::StrCat("nginx workers of older configurations still run; its log:\n", log));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string NginxProxy::address() const { return absl::StrCat("127.0.0.1:", port_); }

bool NginxProxy::running() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }

std::string NginxProxy::Log() const { return ReadText(prefix_ + "/stderr.log"); }

std::string NginxProxy::AccessLog() const { return ReadText(prefix_ + "/access.log"); }

}  // namespace rnnserve::testing
