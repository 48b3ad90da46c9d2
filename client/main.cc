// rnnserve-cli: the command-line client and load generator of rnnserve.
//   rnnserve-cli SUBCOMMAND [ARGS...] [--server=HOST:PORT] [--timeout=10s] [FLAGS]
//   rnnserve-cli --help | rnnserve-cli SUBCOMMAND --help
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "client/channel.h"
#include "client/command.h"
#include "client/errors.h"

namespace {

using rnnserve::client::Command;

std::vector<const Command*> Commands() {
  using namespace rnnserve::client;
  return {&ModelsCommand(),  &ModelCommand(),  &StreamCommand(), &GenerateCommand(),
          &SessionCommand(), &HealthCommand(), &BenchCommand()};
}

std::string Usage() {
  std::string out =
      "rnnserve-cli: talk to an rnnserve server, or load it.\n\n"
      "Usage: rnnserve-cli SUBCOMMAND [ARGS...] [FLAGS]\n\nSubcommands:\n";
  for (const Command* c : Commands()) {
    absl::StrAppend(&out, "  ", c->name, std::string(10 - std::min<size_t>(c->name.size(), 9), ' '),
                    c->summary, "\n");
  }
  absl::StrAppend(&out,
                  "\nEvery subcommand takes --server=HOST:PORT (default 127.0.0.1:50051), "
                  "--timeout=DURATION (default 10s),\nTLS (--tls, --tls_ca, --tls_cert, "
                  "--tls_key, --tls_server_name) and --token_file.\n"
                  "`rnnserve-cli SUBCOMMAND --help` lists its flags.\n\n",
                  rnnserve::client::ExitCodeHelp());
  return out;
}

std::string CommandHelp(const Command& c) {
  std::vector<std::string> flags = c.flags;
  flags.insert(flags.end(), rnnserve::client::ConnectionFlagNames().begin(),
               rnnserve::client::ConnectionFlagNames().end());
  return absl::StrCat("Usage: rnnserve-cli ", c.synopsis, "\n\n", c.summary, "\n\n", c.details,
                      c.details.empty() ? "" : "\n", "Flags:\n", rnnserve::client::FlagHelp(flags),
                      "\n", rnnserve::client::ExitCodeHelp());
}

}  // namespace

int main(int argc, char** argv) {
  using namespace rnnserve::client;
  // Debian's Abseil (no NDEBUG) runs its deadlock detector on every lock,
  // gRPC's included; the load generator must not pay it (nor skew bench).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << Usage();
    return kExitUsage;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << Usage();
    return kExitOk;
  }
  for (const Command* command : Commands()) {
    if (command->name != args[0]) continue;
    std::vector<std::string> flags = command->flags;
    flags.insert(flags.end(), ConnectionFlagNames().begin(), ConnectionFlagNames().end());
    absl::StatusOr<CommandLine> line =
        ParseCommandLine(std::vector<std::string>(args.begin() + 1, args.end()), flags);
    absl::Status status = line.status();
    if (line.ok() && line->help) {
      std::cout << CommandHelp(*command);
      return kExitOk;
    }
    if (line.ok()) status = command->run(*line);
    if (status.ok()) return kExitOk;
    std::cout.flush();
    std::cerr << "rnnserve-cli " << command->name << ": " << absl::StatusCodeToString(status.code())
              << ": " << status.message() << "\n";
    if (ExitCodeOf(status) == kExitUsage) {
      std::cerr << "usage: rnnserve-cli " << command->synopsis << "  (--help for more)\n";
    }
    return ExitCodeOf(status);
  }
  std::cerr << "rnnserve-cli: unknown subcommand \"" << args[0] << "\"\n\n" << Usage();
  return kExitUsage;
}
