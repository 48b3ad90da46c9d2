// A real redis-server (/usr/bin/redis-server) on a free 127.0.0.1 port, with
// nothing persisted (--save "" --appendonly no, its files in a temporary
// folder), for tests of the session tier. Stop/Kill/Restart/Pause/Resume play
// the failures the tier must survive. Links nothing of the server. Not
// thread-safe; one owner.
#ifndef RNNSERVE_TESTS_COMMON_REDIS_SERVER_H_
#define RNNSERVE_TESTS_COMMON_REDIS_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace rnnserve::testing {

class RedisServer {
 public:
  struct Options {
    std::string password;  // Non-empty: --requirepass.
    absl::Duration startup = absl::Seconds(10);
  };

  // Runs redis-server and waits until it answers PING (NOAUTH counts as an
  // answer); UNAVAILABLE with its log when it does not within `startup`.
  static absl::StatusOr<std::unique_ptr<RedisServer>> Start(Options options);
  static absl::StatusOr<std::unique_ptr<RedisServer>> Start() { return Start(Options{}); }
  ~RedisServer();  // SIGKILL and reap if running; removes its folder.
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  std::string address() const;  // "127.0.0.1:<port>"
  std::string url() const;      // "redis://127.0.0.1:<port>", for --session_store.
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  // SIGTERM (after SIGCONT, in case it is paused) and wait for it to exit;
  // SIGKILL if it has not within 10 s.
  void Stop();
  void Kill();  // SIGKILL and reap: a crash.
  // Starts it again on the same port, empty (it persisted nothing), stopping
  // it first if it runs.
  absl::Status Restart();
  void Pause();   // SIGSTOP: it keeps its connections but answers nothing.
  void Resume();  // SIGCONT.

  // Everything it logged so far.
  std::string Log() const;

 private:
  RedisServer(Options options, std::string dir) : options_(std::move(options)), dir_(dir) {}
  // Runs redis-server on port_ and waits for its PING answer.
  absl::Status Launch();
  void Reap();

  const Options options_;
  const std::string dir_;  // Its --dir and log; removed by the destructor.
  int port_ = 0;
  pid_t pid_ = 0;  // 0 when not running.
};

}  // namespace rnnserve::testing

#endif  // RNNSERVE_TESTS_COMMON_REDIS_SERVER_H_
