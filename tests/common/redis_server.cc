#include "tests/common/redis_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/common/server_process.h"

extern char** environ;

namespace rnnserve::testing {
namespace {

constexpr char kRedisServer[] = "/usr/bin/redis-server";

// True when something on 127.0.0.1:`port` answers PING the way Redis does
// (+PONG, or -NOAUTH when it wants a password), within 200 ms.
bool AnswersPing(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  timeval timeout{.tv_sec = 0, .tv_usec = 200'000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  bool answered = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      send(fd, "PING\r\n", 6, MSG_NOSIGNAL) == 6) {
    char reply[64] = {};
    const ssize_t got = recv(fd, reply, sizeof(reply) - 1, 0);
    answered = got > 0 && (absl::StartsWith(reply, "+PONG") || absl::StartsWith(reply, "-NOAUTH"));
  }
  close(fd);
  return answered;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::Start(Options options) {
  const char* tmp = getenv("TMPDIR");
  std::string dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/rnnserve_redis_XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", dir, ": ", strerror(errno)));
  }
  std::unique_ptr<RedisServer> server(new RedisServer(std::move(options), dir));
  // UnusedPort() releases the port before redis-server binds it, so another
  // process may take it meanwhile: then try another one.
  absl::Status launched;
  for (int attempt = 0; attempt < 3; ++attempt) {
    server->port_ = UnusedPort();
    launched = server->Launch();
    if (launched.ok()) return server;
  }
  return launched;
}

RedisServer::~RedisServer() {
  Kill();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string RedisServer::address() const { return absl::StrCat("127.0.0.1:", port_); }

std::string RedisServer::url() const { return absl::StrCat("redis://127.0.0.1:", port_); }

absl::Status RedisServer::Launch() {
  // Nothing persisted, so a restart starts empty as Redis does after a crash
  // without AOF; listening on loopback only.
  std::vector<std::string> args = {
      kRedisServer, "--port", absl::StrCat(port_), "--bind", "127.0.0.1", "--dir", dir_};
  for (const char* setting :
       {"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"}) {
    args.push_back(setting);
  }
  if (!options_.password.empty()) {
    args.push_back("--requirepass");
    args.push_back(options_.password);
  }
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  // Our environment but LD_PRELOAD: under scripts/sanitize.sh tsan it
  // preloads a shim that calls into the TSan runtime, which redis-server
  // (not instrumented) lacks: it crashed at its first lock.
  std::vector<char*> env;
  for (char** var = environ; *var != nullptr; ++var) {
    if (!absl::StartsWith(*var, "LD_PRELOAD=")) env.push_back(*var);
  }
  env.push_back(nullptr);
  const std::string log_path = dir_ + "/redis.log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, kRedisServer, &actions, nullptr, argv.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    return absl::InternalError(absl::StrCat("cannot run ", kRedisServer, ": ", strerror(spawned)));
  }
  pid_ = pid;
  const absl::Time give_up = absl::Now() + options_.startup;
  while (absl::Now() < give_up) {
    if (AnswersPing(port_)) return absl::OkStatus();
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = 0;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Kill();
  return absl::UnavailableError(absl::StrCat("redis-server on port ", port_,
                                             " did not answer PING in time; its log:\n", Log()));
}

void RedisServer::Reap() {
  waitpid(pid_, nullptr, 0);
  pid_ = 0;
}

void RedisServer::Stop() {
  if (pid_ == 0) return;
  kill(pid_, SIGCONT);
  kill(pid_, SIGTERM);
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (absl::Now() < give_up) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = 0;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Kill();
}

void RedisServer::Kill() {
  if (pid_ == 0) return;
  kill(pid_, SIGKILL);  // Also ends a stopped (paused) process.
  Reap();
}

absl::Status RedisServer::Restart() {
  Stop();
  return Launch();
}

void RedisServer::Pause() {
  if (pid_ != 0) kill(pid_, SIGSTOP);
}

void RedisServer::Resume() {
  if (pid_ != 0) kill(pid_, SIGCONT);
}

std::string RedisServer::Log() const {
  std::ifstream in(dir_ + "/redis.log");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace rnnserve::testing
