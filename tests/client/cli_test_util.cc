#include "tests/client/cli_test_util.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/common/program_run.h"

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

std::string ServerProcess::address() const { return process_->address(); }

std::string ServerProcess::metrics_address() const {
  return absl::StrCat("127.0.0.1:", process_->metrics_port());
}

CliResult RunCli(const std::vector<std::string>& args, const std::string& stdin_text) {
  std::vector<std::string> argv = {std::string(RNNSERVE_BIN_DIR) + "/rnnserve-cli"};
  argv.insert(argv.end(), args.begin(), args.end());
  rnnserve::testing::ProgramResult run =
      rnnserve::testing::RunProgram(argv, stdin_text, absl::Seconds(120));
  return CliResult{run.exit_code, std::move(run.out), std::move(run.err)};
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
