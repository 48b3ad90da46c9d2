// The fields of a /proc/PID/stat or /proc/PID/task/TID/stat line (proc(5)),
// for the server's process metrics and the tests that read a thread's
// scheduling policy.
#ifndef RNNSERVE_UTIL_PROC_STAT_H_
#define RNNSERVE_UTIL_PROC_STAT_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace rnnserve::util {

// proc(5)'s field N of a stat line is ProcStatFields(line)[N - kFirstProcStatField].
inline constexpr int kFirstProcStatField = 3;

// The fields after "(comm)", split at spaces (the line's final newline
// dropped): found from the last ')', since the command name may hold spaces
// and parentheses. Empty if there is none.
std::vector<std::string> ProcStatFields(absl::string_view stat);

}  // namespace rnnserve::util

#endif  // RNNSERVE_UTIL_PROC_STAT_H_
