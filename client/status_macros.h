// Early-return helpers for absl::Status, the client's own: client/ may not
// include model/status_macros.h (it sees only proto/), and abseil 20220623
// has no RETURN_IF_ERROR of its own.
#ifndef RNNSERVE_CLIENT_STATUS_MACROS_H_
#define RNNSERVE_CLIENT_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CLI_CONCAT_INNER_(a, b) a##b
#define CLI_CONCAT_(a, b) CLI_CONCAT_INNER_(a, b)

// Returns the status of `expr` from the enclosing function unless it is OK.
#define CLI_RETURN_IF_ERROR(expr)              \
  do {                                         \
    const ::absl::Status cli_status_ = (expr); \
    if (!cli_status_.ok()) return cli_status_; \
  } while (false)

// `lhs = *expr` when `expr` (a StatusOr) is OK, else returns its status.
#define CLI_ASSIGN_OR_RETURN(lhs, expr) \
  CLI_ASSIGN_OR_RETURN_IMPL_(CLI_CONCAT_(cli_statusor_, __LINE__), lhs, expr)
#define CLI_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                               \
  if (!statusor.ok()) return statusor.status();         \
  lhs = *std::move(statusor)

#endif  // RNNSERVE_CLIENT_STATUS_MACROS_H_
