// Helpers for the client's end-to-end tests: a real rnnserve process on a
// free loopback port, and runs of rnnserve-cli with their outputs and exit
// code. Every wait is bounded. ctest runs each test case in its own process,
// in parallel, so every file lives in a directory of this process.
#ifndef RNNSERVE_TESTS_CLIENT_CLI_TEST_UTIL_H_
#define RNNSERVE_TESTS_CLIENT_CLI_TEST_UTIL_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/common/server_process.h"

namespace rnnserve::client::testing {

// This process's scratch directory (created on first use, removed at exit).
const std::string& TempDir();
// TempDir()/name.
std::string TempPath(const std::string& name);
void WriteFile(const std::string& path, const std::string& contents);
std::string ReadFile(const std::string& path);

// build/bin/rnnserve serving the repository's models/ on 127.0.0.1, both
// ports picked by the kernel (tests/common/server_process.h), stopped as an
// operator stops it: SIGTERM, then wait for the drain.
class ServerProcess {
 public:
  // Waits at most 60 s for the server to log its ports.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(
      const std::vector<std::string>& extra_flags = {});
  ~ServerProcess() { Stop(); }

  std::string address() const;          // "127.0.0.1:PORT"
  std::string metrics_address() const;  // "127.0.0.1:PORT"
  int port() const;
  // SIGTERM, then waits at most 30 s; the exit code (0 for a clean drain).
  int Stop();
  // SIGKILL, as a crash: nothing is saved.
  void Kill();

 private:
  explicit ServerProcess(std::unique_ptr<rnnserve::testing::ServerProcess> process)
      : process_(std::move(process)) {}
  std::unique_ptr<rnnserve::testing::ServerProcess> process_;  // null once stopped
};

// Waits at most `timeout` until `server`'s metric `name` (summed over its
// labels) is at least `at_least`; false if it never is.
bool WaitForMetric(const ServerProcess& server, const std::string& name, double at_least,
                   absl::Duration timeout = absl::Seconds(60));

struct CliResult {
  int exit_code = -1;  // -1 when killed by a signal (or the 120 s bound)
  std::string out;
  std::string err;
};

// Runs build/bin/rnnserve-cli with `args`, feeding `stdin_text`; at most
// 120 s.
CliResult RunCli(const std::vector<std::string>& args, const std::string& stdin_text = "");

// build/bin/rnnserve-cli running while the test feeds its stdin a piece at a
// time and watches its stdout, for tests that act between its steps (kill
// the server after the 20th answer). Killed, if still running, on
// destruction.
class CliProcess {
 public:
  // nullptr if it cannot be started.
  static std::unique_ptr<CliProcess> Start(const std::vector<std::string>& args);
  ~CliProcess();
  CliProcess(const CliProcess&) = delete;
  CliProcess& operator=(const CliProcess&) = delete;

  void Write(const std::string& text);
  // Waits at most `timeout` until its stdout holds `lines` lines; false if not.
  bool WaitForLines(int lines, absl::Duration timeout = absl::Seconds(60));
  // Closes its stdin and waits at most 120 s for it to exit.
  CliResult Finish();

 private:
  CliProcess(pid_t pid, int stdin_fd, std::string out, std::string err)
      : pid_(pid), stdin_fd_(stdin_fd), out_(std::move(out)), err_(std::move(err)) {}
  pid_t pid_;
  int stdin_fd_;
  const std::string out_;  // files its stdout and stderr go to
  const std::string err_;
  bool exited_ = false;
};

using ::rnnserve::testing::UnusedPort;

// How close the demo forecaster's answers must be to its PyTorch reference:
// 1e-5 in the units it was trained in. It answers sunspot numbers through its
// output transform y * 34.061 + 43.727 (issue 21), which scales the rounding
// of both sides by 34.061 (tests/common/parity_tolerance.h for models/).
inline constexpr double kForecastTolerance = 1e-5 * 34.0611;

// The rows of CSV text, as floats.
std::vector<std::vector<float>> ParseCsv(const std::string& text);

// The repository's file `relative` (e.g. "models/forecast/1/sample_input.npy").
std::string SourcePath(const std::string& relative);

}  // namespace rnnserve::client::testing

#endif  // RNNSERVE_TESTS_CLIENT_CLI_TEST_UTIL_H_
