// Flags that several subcommands share. Each is defined once (absl flag
// names are global) in common_flags.cc; each subcommand lists the ones it
// accepts (client/command.h).
#ifndef RNNSERVE_CLIENT_COMMON_FLAGS_H_
#define RNNSERVE_CLIENT_COMMON_FLAGS_H_

#include <string>

#include "absl/flags/declare.h"
#include "absl/time/time.h"

ABSL_DECLARE_FLAG(std::string, server);
ABSL_DECLARE_FLAG(absl::Duration, timeout);
ABSL_DECLARE_FLAG(bool, tls);
ABSL_DECLARE_FLAG(std::string, tls_ca);
ABSL_DECLARE_FLAG(std::string, tls_cert);
ABSL_DECLARE_FLAG(std::string, tls_key);
ABSL_DECLARE_FLAG(std::string, tls_server_name);
ABSL_DECLARE_FLAG(std::string, token_file);
ABSL_DECLARE_FLAG(std::string, model);
ABSL_DECLARE_FLAG(int64_t, model_version);
ABSL_DECLARE_FLAG(std::string, session);
ABSL_DECLARE_FLAG(bool, json);
ABSL_DECLARE_FLAG(int, chunk);
ABSL_DECLARE_FLAG(uint64_t, seed);
ABSL_DECLARE_FLAG(int, max_reconnects);
ABSL_DECLARE_FLAG(int64_t, keep_steps);

#endif  // RNNSERVE_CLIENT_COMMON_FLAGS_H_
