#include "tests/client/cli_test_util.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/bench/metrics_scraper.h"
#include "tests/common/program_run.h"

extern char** environ;

namespace rnnserve::client::testing {

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

void ServerProcess::Kill() {
  if (process_ == nullptr) return;
  process_->Signal(SIGKILL);
  process_->Wait(absl::Seconds(30));
  process_.reset();
}

int ServerProcess::port() const { return process_->port(); }

std::string ServerProcess::address() const { return process_->address(); }

std::string ServerProcess::metrics_address() const {
  return absl::StrCat("127.0.0.1:", process_->metrics_port());
}

bool WaitForMetric(const ServerProcess& server, const std::string& name, double at_least,
                   absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  while (true) {
    const absl::StatusOr<std::string> page =
        bench::FetchMetrics(server.metrics_address(), absl::Seconds(10));
    if (page.ok()) {
      const absl::StatusOr<double> value = bench::MetricValue(*page, name);
      if (value.ok() && *value >= at_least) return true;
    }
    if (absl::Now() >= give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

CliResult RunCli(const std::vector<std::string>& args, const std::string& stdin_text) {
  std::vector<std::string> argv = {std::string(RNNSERVE_BIN_DIR) + "/rnnserve-cli"};
  argv.insert(argv.end(), args.begin(), args.end());
  rnnserve::testing::ProgramResult run =
      rnnserve::testing::RunProgram(argv, stdin_text, absl::Seconds(120));
  return CliResult{run.exit_code, std::move(run.out), std::move(run.err)};
}

std::unique_ptr<CliProcess> CliProcess::Start(const std::vector<std::string>& args) {
  static std::atomic<int> next{0};
  const std::string base = TempPath(absl::StrCat("cli_process_", next++));
  std::vector<std::string> argv = {std::string(RNNSERVE_BIN_DIR) + "/rnnserve-cli"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> pointers;
  for (std::string& a : argv) pointers.push_back(a.data());
  pointers.push_back(nullptr);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return nullptr;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[0], 0);
  posix_spawn_file_actions_addopen(&actions, 1, (base + ".out").c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, (base + ".err").c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, pointers[0], &actions, nullptr, pointers.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[0]);
  if (spawned != 0) {
    close(fds[1]);
    return nullptr;
  }
  return std::unique_ptr<CliProcess>(new CliProcess(pid, fds[1], base + ".out", base + ".err"));
}

CliProcess::~CliProcess() {
  if (stdin_fd_ >= 0) close(stdin_fd_);
  if (!exited_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void CliProcess::Write(const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(stdin_fd_, text.data() + done, text.size() - done);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

bool CliProcess::WaitForLines(int lines, absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  while (true) {
    const std::string out = ReadFile(out_);
    if (std::count(out.begin(), out.end(), '\n') >= lines) return true;
    if (absl::Now() >= give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

CliResult CliProcess::Finish() {
  close(stdin_fd_);
  stdin_fd_ = -1;
  CliResult result;
  const absl::Time give_up = absl::Now() + absl::Seconds(120);
  while (!exited_) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      break;
    }
    if (absl::Now() >= give_up) break;  // the destructor kills it
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  result.out = ReadFile(out_);
  result.err = ReadFile(err_);
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
