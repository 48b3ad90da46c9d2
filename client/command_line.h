// rnnserve-cli's command line: `rnnserve-cli SUBCOMMAND [ARGS...] [--flag=value...]`.
//
// Flags are ordinary absl flags (ABSL_FLAG: typed, with help text and a
// default), but they are parsed here rather than by absl::ParseCommandLine,
// which accepts every subcommand's flags everywhere (a `--prompt` given to
// `models` would pass silently) and exits with code 1, our "the server
// failed" code, on a bad flag and on --help. Here each subcommand names the
// flags it takes, a wrong one is a usage error (exit 2), and --help prints
// just that subcommand's flags.
#ifndef RNNSERVE_CLIENT_COMMAND_LINE_H_
#define RNNSERVE_CLIENT_COMMAND_LINE_H_

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rnnserve::client {

struct CommandLine {
  std::vector<std::string> positional;  // the arguments that are not flags, in order
  std::set<std::string> given;          // the flags set on the command line
  bool help = false;                    // --help or -h was given

  bool Given(absl::string_view flag) const { return given.count(std::string(flag)) > 0; }
};

// Parses `args` (the words after the subcommand), setting the absl flags it
// names. Accepted forms: --name=value, --name value, -name, --name (bool:
// true), --noname (bool: false); a lone "-" is positional (stdin) and "--"
// makes the rest positional. UsageError for a flag not in `allowed`, a
// missing or unparsable value. --help or -h stops parsing with help = true.
absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args,
                                             const std::vector<std::string>& allowed);

// One entry per flag in `names`: "  --name=DEFAULT" and its help, wrapped.
std::string FlagHelp(const std::vector<std::string>& names);

}  // namespace rnnserve::client

#endif  // RNNSERVE_CLIENT_COMMAND_LINE_H_
