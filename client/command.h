// A subcommand of rnnserve-cli: what --help says about it, which flags it
// takes, and what it does. main.cc dispatches on the first argument; each
// subcommand lives in its own file and returns its Command.
#ifndef RNNSERVE_CLIENT_COMMAND_H_
#define RNNSERVE_CLIENT_COMMAND_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/command_line.h"

namespace rnnserve::client {

struct Command {
  std::string name;      // "model"
  std::string synopsis;  // "model NAME [--json]"
  std::string summary;   // one line for the list of subcommands
  std::string details;   // paragraphs for `rnnserve-cli NAME --help`
  // The absl flags it accepts besides the connection flags (--server,
  // --timeout, TLS, token: ConnectionFlagNames()), which all take.
  std::vector<std::string> flags;
  // Runs with the flags already set; the output goes to stdout. A failure is
  // returned, never printed: main prints it and maps it to the exit code
  // (client/errors.h).
  absl::Status (*run)(const CommandLine& line);
};

const Command& ModelsCommand();
const Command& ModelCommand();
const Command& StreamCommand();
const Command& GenerateCommand();
const Command& SessionCommand();
const Command& HealthCommand();
const Command& BenchCommand();

}  // namespace rnnserve::client

#endif  // RNNSERVE_CLIENT_COMMAND_H_
