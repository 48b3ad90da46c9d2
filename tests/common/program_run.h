// A program run to completion as a user runs it from a shell: its arguments
// and standard input in, its standard output, standard error and exit code
// out, bounded in time. For the tests that run our binaries (rnnserve-cli)
// and third-party tools (buf) against a server. Thread-compatible: each call
// works in a scratch folder of its own.
#ifndef RNNSERVE_TESTS_COMMON_PROGRAM_RUN_H_
#define RNNSERVE_TESTS_COMMON_PROGRAM_RUN_H_

#include <string>
#include <vector>

#include "absl/time/time.h"

namespace rnnserve::testing {

struct ProgramResult {
  // -1 when the program could not start, was killed by a signal, or ran past
  // the time bound (then it is killed).
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs argv[0] (a path: no PATH lookup) with `argv`, `stdin_text` on its
// standard input, in this process's environment; kills it after `timeout`.
ProgramResult RunProgram(const std::vector<std::string>& argv, const std::string& stdin_text = "",
                         absl::Duration timeout = absl::Seconds(120));

}  // namespace rnnserve::testing

#endif  // RNNSERVE_TESTS_COMMON_PROGRAM_RUN_H_
