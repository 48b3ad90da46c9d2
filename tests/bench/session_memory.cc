// Memory per idle session: RSS growth over N sessions of a model, against the
// raw state bytes (issue 4 / issue 6). Sessions are created through the same
// SessionStore and StatePool the server uses; gRPC keeps nothing per session.
//   build/bin/session_memory [--model=models/charlm/1] [--sessions=100000]
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/model_loader.h"
#include "server/session_store.h"
#include "server/state_pool.h"

ABSL_FLAG(std::string, model, "models/charlm/1", "model version folder");
ABSL_FLAG(int64_t, sessions, 100'000, "idle sessions to create");

namespace {

int64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  using namespace rnnserve;
  absl::StatusOr<model::LoadedModel> loaded = model::LoadModel(absl::GetFlag(FLAGS_model));
  if (!loaded.ok()) {
    std::cerr << loaded.status() << "\n";
    return 1;
  }
  const int64_t n = absl::GetFlag(FLAGS_sessions);
  auto pool = *server::StatePool::Create(
      {.slot_floats = loaded->stack->state_size(), .max_slots = n});
  server::SessionStore store({.max_sessions = n});
  const server::ModelRef ref{"demo", 1, loaded->stack, pool.get()};
  const int64_t before = ResidentBytes();
  const absl::Time now = absl::Now();
  for (int64_t i = 0; i < n; ++i) {
    if (!store.Start(absl::StrCat("user-", i), ref, now).ok()) {
      std::cerr << "session " << i << " could not start\n";
      return 1;
    }
  }
  const int64_t after = ResidentBytes();
  const double per_session = static_cast<double>(after - before) / n;
  const double raw = loaded->stack->state_size() * 4.0;
  std::cout << absl::StrFormat(
      "%d sessions of %s: RSS +%.1f MiB, %.0f bytes per session; raw state %.0f bytes "
      "(%.2fx)\n",
      n, absl::GetFlag(FLAGS_model), (after - before) / 1048576.0, per_session, raw,
      per_session / raw);
  return 0;
}
