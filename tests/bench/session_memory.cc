// Memory per idle session: RSS growth over N sessions of a model, against the
// raw state bytes (issue 4 / issue 6). Sessions are created through the same
// SessionStore and StatePool the server uses; gRPC keeps nothing per session.
// One store grows through every count given, as a server's would, and each
// row is the growth from the empty store to that many sessions. Each session
// is locked once, as its starting step does. With --tier the store tracks
// changes as it does under a session tier, so each session also carries the
// tier's fields (SessionTierState); the change feed, which the checkpoint
// writer empties every interval, is emptied every 1024 sessions. With
// --starts_when_full=N it then starts N more sessions in the full store,
// each evicting the least recently used, and reports what a start takes.
//   build/bin/session_memory [--model=models/charlm/1]
//       [--sessions=10000,100000,1000000] [--id_bytes=36] [--tier]
//       [--starts_when_full=20000]
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "model/importers/model_loader.h"
#include "server/session_store.h"
#include "server/state_pool.h"

ABSL_FLAG(std::string, model, "models/charlm/1", "model version folder");
ABSL_FLAG(std::vector<std::string>, sessions, std::vector<std::string>({"100000"}),
          "idle session counts to report, comma-separated, ascending");
ABSL_FLAG(int, id_bytes, 36,
          "session id length: 36 is a UUID's. The id follows the 48-byte Session in "
          "its heap block, so ids of up to 40 bytes keep it one 96-byte malloc chunk");

ABSL_FLAG(bool, tier, false, "sessions as a session tier keeps them (SessionTierState)");
ABSL_FLAG(int, starts_when_full, 0,
          "then start this many more sessions in the full store under --full_policy=evict_lru "
          "(each ends the least recently used one) and report the time a start takes");

namespace {

int64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

// Distinct ids of exactly `bytes` bytes (at least the digits of i).
std::string SessionId(int64_t i, int bytes) {
  std::string digits = absl::StrCat(i);
  const int pad = std::max(0, bytes - static_cast<int>(digits.size()) - 1);
  return absl::StrCat("s", std::string(pad, '0'), digits);
}

}  // namespace

int main(int argc, char** argv) {
  // As rnnserve's main does: Debian's abseil (no NDEBUG) would otherwise keep
  // a deadlock-detector graph node (~520 bytes) per mutex ever locked.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::ParseCommandLine(argc, argv);
  using namespace rnnserve;
  std::vector<int64_t> counts;
  for (const std::string& s : absl::GetFlag(FLAGS_sessions)) {
    int64_t n = 0;
    if (!absl::SimpleAtoi(s, &n) || n < 1 || (!counts.empty() && n <= counts.back())) {
      std::cerr << "--sessions: want ascending positive counts, got " << s << "\n";
      return 2;
    }
    counts.push_back(n);
  }
  absl::StatusOr<model::LoadedModel> loaded = model::LoadModel(absl::GetFlag(FLAGS_model));
  if (!loaded.ok()) {
    std::cerr << loaded.status() << "\n";
    return 1;
  }
  const int64_t most = counts.back();
  auto pool =
      *server::StatePool::Create({.slot_floats = loaded->stack->state_size(), .max_slots = most});
  const bool tier = absl::GetFlag(FLAGS_tier);
  const int starts_when_full = absl::GetFlag(FLAGS_starts_when_full);
  server::SessionStore store(
      {.max_sessions = most,
       .full_policy = server::SessionStore::FullPolicy::kEvictLeastRecentlyUsed,
       .track_changes = tier});
  const server::ModelRef ref{"demo", 1, loaded->stack, pool.get()};
  const double raw = loaded->stack->state_size() * 4.0;
  const int id_bytes = absl::GetFlag(FLAGS_id_bytes);
  std::cout << absl::StrFormat(
      "%s: raw state %.0f bytes, pool slot %d bytes; session ids of %d bytes%s\n\n"
      "| sessions | RSS growth | per session | / raw state |\n|---|---|---|---|\n",
      absl::GetFlag(FLAGS_model), raw, pool->stride_floats() * 4, id_bytes,
      tier ? "; with a session tier's fields" : "");
  const int64_t before = ResidentBytes();
  const absl::Time now = absl::Now();
  int64_t made = 0;
  for (const int64_t n : counts) {
    for (; made < n; ++made) {
      auto session = store.Start(SessionId(made, id_bytes), ref, now);
      if (!session.ok()) {
        std::cerr << "session " << made << " could not start\n";
        return 1;
      }
      // A session's first step locks its mutex (which costs nothing per
      // session now that the deadlock detector is off, as in the server).
      absl::MutexLock lock(&(*session)->mu());
      if (tier && made % 1024 == 0) store.changes().Take();  // the writer's interval
    }
    store.changes().Take();  // as the checkpoint writer does
    const int64_t grown = ResidentBytes() - before;
    const double per_session = static_cast<double>(grown) / n;
    std::cout << absl::StrFormat("| %d | %.1f MiB | %.0f bytes | %.2fx |\n", n, grown / 1048576.0,
                                 per_session, per_session / raw);
  }
  if (starts_when_full > 0) {
    const absl::Time start = absl::Now();
    for (int i = 0; i < starts_when_full; ++i, ++made) {
      if (!store.Start(SessionId(made, id_bytes), ref, now + absl::Seconds(1)).ok()) {
        std::cerr << "session " << made << " could not start in the full store\n";
        return 1;
      }
    }
    const absl::Duration took = absl::Now() - start;
    std::cout << absl::StrFormat(
        "\n%d starts in the full store (%d sessions, evict_lru): %.1f us each\n", starts_when_full,
        most, absl::ToDoubleMicroseconds(took) / starts_when_full);
  }
  return 0;
}
