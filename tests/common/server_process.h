// build/bin/rnnserve run as users run it, on 127.0.0.1 with ports the kernel
// picks: for tests that need a real process (signals, exit codes, two
// servers, the client binary). Links nothing of the server, so the client
// tests use it too. Not thread-safe; one owner.
#ifndef RNNSERVE_TESTS_COMMON_SERVER_PROCESS_H_
#define RNNSERVE_TESTS_COMMON_SERVER_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace rnnserve::testing {

class ServerProcess {
 public:
  // Runs `binary` (default: RNNSERVE_BIN_DIR/rnnserve) with `flags` and
  // --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0, its stderr into a log
  // file, and waits up to `startup` for the two ports it logs. The error
  // carries the log when it exits or never logs them.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(
      const std::vector<std::string>& flags, absl::Duration startup = absl::Seconds(60),
      const std::string& binary = "");
  ~ServerProcess();  // SIGKILL and reap, if still running.
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  pid_t pid() const { return pid_; }  // e.g. for /proc/<pid>/status
  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }  // 0: --metrics_listen= (none)
  // "127.0.0.1:<port>", for channels and --server flags.
  std::string address() const;

  void Signal(int signal_number) const;
  // The exit code once it exits within `timeout`; -1 if it is still running
  // then, 128 + N if signal N killed it.
  int Wait(absl::Duration timeout);
  // Everything it logged so far.
  std::string Log() const;

 private:
  ServerProcess(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}

  pid_t pid_;
  const std::string log_path_;
  int port_ = 0;
  int metrics_port_ = 0;
  bool exited_ = false;
  int exit_code_ = -1;
};

// A loopback port nothing listens on (bound, then released), for programs
// that cannot pick their own; below the kernel's ephemeral range, so that no
// connection or port-0 listener takes it before the program binds it.
int UnusedPort();

// A field of /proc/<pid>/status in bytes ("VmRSS:", "VmHWM:" the peak RSS),
// or -1 when the process or the field is not there.
int64_t ProcStatusBytes(pid_t pid, const std::string& field);

}  // namespace rnnserve::testing

#endif  // RNNSERVE_TESTS_COMMON_SERVER_PROCESS_H_
