#include "util/proc_stat.h"

#include "absl/strings/str_split.h"

namespace rnnserve::util {

std::vector<std::string> ProcStatFields(absl::string_view stat) {
  const size_t comm_end = stat.rfind(')');
  if (comm_end == absl::string_view::npos) return {};
  return absl::StrSplit(stat.substr(comm_end + 1), absl::ByAnyChar(" \n"), absl::SkipEmpty());
}

}  // namespace rnnserve::util
