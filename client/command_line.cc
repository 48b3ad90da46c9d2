#include "client/command_line.h"

#include <algorithm>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/errors.h"

namespace rnnserve::client {
namespace {

bool Allowed(const std::vector<std::string>& allowed, absl::string_view name) {
  return std::find(allowed.begin(), allowed.end(), name) != allowed.end();
}

// `text` wrapped at `width` columns, every line indented by `indent`.
std::string Wrap(absl::string_view text, size_t indent, size_t width) {
  std::string out;
  std::string line;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (!line.empty() && indent + line.size() + 1 + word.size() > width) {
      absl::StrAppend(&out, std::string(indent, ' '), line, "\n");
      line.clear();
    }
    absl::StrAppend(&line, line.empty() ? "" : " ", word);
  }
  if (!line.empty()) absl::StrAppend(&out, std::string(indent, ' '), line, "\n");
  return out;
}

}  // namespace

absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args,
                                             const std::vector<std::string>& allowed) {
  CommandLine line;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      line.positional.insert(line.positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      line.positional.push_back(arg);
      continue;
    }
    absl::string_view body = absl::StripPrefix(absl::StripPrefix(arg, "-"), "-");
    if (body == "help" || body == "h" || body == "helpfull") {
      line.help = true;
      return line;
    }
    const size_t equals = body.find('=');
    std::string name(body.substr(0, equals));
    absl::optional<std::string> value;
    if (equals != absl::string_view::npos) value = std::string(body.substr(equals + 1));

    absl::CommandLineFlag* flag =
        Allowed(allowed, name) ? absl::FindCommandLineFlag(name) : nullptr;
    if (flag == nullptr && absl::StartsWith(name, "no") && !value.has_value()) {
      // --nojson is --json=false.
      const std::string positive = name.substr(2);
      absl::CommandLineFlag* negated =
          Allowed(allowed, positive) ? absl::FindCommandLineFlag(positive) : nullptr;
      if (negated != nullptr && negated->IsOfType<bool>()) {
        flag = negated;
        name = positive;
        value = "false";
      }
    }
    if (flag == nullptr) {
      return UsageError(absl::StrCat("unknown flag ", arg, " for this subcommand (see --help)"));
    }
    if (!value.has_value()) {
      if (flag->IsOfType<bool>()) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return UsageError(absl::StrCat("--", name, " needs a value"));
      }
    }
    std::string error;
    if (!flag->ParseFrom(*value, &error)) {
      return UsageError(absl::StrCat("--", name, "=", *value, ": ", error));
    }
    line.given.insert(name);
  }
  return line;
}

std::string FlagHelp(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr) continue;
    const std::string default_value = flag->DefaultValue();
    absl::StrAppend(&out, "  --", name,
                    flag->IsOfType<bool>()          ? (default_value == "true" ? "=true" : "")
                    : flag->IsOfType<std::string>() ? absl::StrCat("=\"", default_value, "\"")
                                                    : absl::StrCat("=", default_value),
                    "\n", Wrap(flag->Help(), 6, 92));
  }
  return out;
}

}  // namespace rnnserve::client
