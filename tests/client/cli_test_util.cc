#include "tests/client/cli_test_util.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

extern char** environ;

namespace rnnserve::client::testing {
namespace {

// Waits for `pid` at most `timeout`, then kills it; its exit code, or -1.
int WaitFor(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  while (true) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0) return -1;
    if (absl::Now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Starts `argv` with stdin, stdout and stderr from/to the given files.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& in, const std::string& out,
            const std::string& err) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, in.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

}  // namespace

const std::string& TempDir() {
  static const std::string* const dir = [] {
    std::string pattern = "/tmp/rnnserve_client_test.XXXXXX";
    const char* made = mkdtemp(pattern.data());
    auto* path = new std::string(made != nullptr ? made : "/tmp");
    std::atexit([] { std::filesystem::remove_all(TempDir()); });
    return path;
  }();
  return *dir;
}

std::string TempPath(const std::string& name) { return TempDir() + "/" + name; }

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary) << contents;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::string SourcePath(const std::string& relative) {
  return std::string(RNNSERVE_SOURCE_DIR) + "/" + relative;
}

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(
    const std::vector<std::string>& extra_flags) {
  std::vector<std::string> flags = {"--models=" + SourcePath("models")};
  flags.insert(flags.end(), extra_flags.begin(), extra_flags.end());
  absl::StatusOr<std::unique_ptr<rnnserve::testing::ServerProcess>> process =
      rnnserve::testing::ServerProcess::Start(flags);
  if (!process.ok()) return process.status();
  return std::unique_ptr<ServerProcess>(new ServerProcess(*std::move(process)));
}

int ServerProcess::Stop() {
  if (process_ == nullptr) return -1;
  process_->Signal(SIGTERM);
  const int code = process_->Wait(absl::Seconds(30));
  process_.reset();  // SIGKILLs it if it is still running
  return code;
}

std::string ServerProcess::address() const { return process_->address(); }

std::string ServerProcess::metrics_address() const {
  return absl::StrCat("127.0.0.1:", process_->metrics_port());
}

CliResult RunCli(const std::vector<std::string>& args, const std::string& stdin_text) {
  static int runs = 0;
  const std::string base = TempPath(absl::StrCat("cli", runs++));
  WriteFile(base + ".in", stdin_text);
  std::vector<std::string> argv = {std::string(RNNSERVE_BIN_DIR) + "/rnnserve-cli"};
  argv.insert(argv.end(), args.begin(), args.end());
  CliResult result;
  const pid_t pid = Spawn(argv, base + ".in", base + ".out", base + ".err");
  if (pid < 0) return result;
  result.exit_code = WaitFor(pid, absl::Seconds(120));
  result.out = ReadFile(base + ".out");
  result.err = ReadFile(base + ".err");
  return result;
}

std::vector<std::vector<float>> ParseCsv(const std::string& text) {
  std::vector<std::vector<float>> rows;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<float> row;
    for (absl::string_view field : absl::StrSplit(line, ',')) {
      float v = NAN;
      if (!absl::SimpleAtof(field, &v)) v = NAN;
      row.push_back(v);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace rnnserve::client::testing
