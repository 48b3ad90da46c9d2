// Early-return helpers for absl::Status. abseil 20220623 (the one gRPC 1.51
// ships with on Debian bookworm) has no RETURN_IF_ERROR of its own.
#ifndef RNNSERVE_UTIL_STATUS_MACROS_H_
#define RNNSERVE_UTIL_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define RNN_STATUS_CONCAT_INNER_(a, b) a##b
#define RNN_STATUS_CONCAT_(a, b) RNN_STATUS_CONCAT_INNER_(a, b)

// Returns the status of `expr` from the enclosing function unless it is OK.
#define RNN_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::absl::Status rnn_status_ = (expr);       \
    if (!rnn_status_.ok()) return rnn_status_; \
  } while (false)

// `lhs = *expr` when `expr` (a StatusOr) holds a value, else returns its status.
#define RNN_ASSIGN_OR_RETURN(lhs, expr) \
  RNN_ASSIGN_OR_RETURN_IMPL_(RNN_STATUS_CONCAT_(rnn_statusor_, __LINE__), lhs, expr)
#define RNN_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr)    \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = *std::move(statusor)

#endif  // RNNSERVE_UTIL_STATUS_MACROS_H_
