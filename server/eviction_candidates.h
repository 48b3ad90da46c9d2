// The least recently used sessions of a store as one scan found them, for
// evictions to take oldest first (SessionStore's evict_lru policy).
//
// Finding the least recently used session once per eviction meant a scan of
// every session: 20 ms a start at 1 000 000 charlm sessions
// (`session_memory --starts_when_full`). One scan now keeps the `capacity`
// least recently used, and evictions take them in order. That stays exact,
// with nothing added per session: a session not kept was used no earlier
// than the newest kept one at the scan, and a use since (or a start) makes a
// session newer still; so the oldest kept candidate that is still there and
// unused since the scan is the least recently used session of the store. A
// candidate used since is skipped (it is no longer among the oldest). The
// store rescans when the candidates run out, or when a session is started or
// used at a time older than the newest candidate's (a caller's clock that
// went back), which the scan could not have seen.
//
// Not thread-safe: the store guards it.
#ifndef RNNSERVE_SERVER_EVICTION_CANDIDATES_H_
#define RNNSERVE_SERVER_EVICTION_CANDIDATES_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace rnnserve::server {

class EvictionCandidates {
 public:
  struct Candidate {
    int64_t last_used_ns = 0;  // when the scan saw it last used
    std::string id;
  };

  // Keeps at most `capacity` candidates (their ids are copied: a store's are
  // at most SessionStore::kMaxIdBytes).
  explicit EvictionCandidates(size_t capacity);

  // A scan: forgets the candidates, takes Offer() for every session, then
  // Finish().
  void BeginScan();
  // Keeps the session if it is among the least recently used offered since
  // BeginScan().
  void Offer(int64_t last_used_ns, absl::string_view id);
  // Orders what the scan kept for TakeOldest().
  void Finish();

  // The least recently used candidate left, or nullopt when none is.
  std::optional<Candidate> TakeOldest();
  bool empty() const { return kept_.empty(); }
  // The newest candidate's use time (the oldest the scan left out was no
  // older); the lowest int64_t when there is none.
  int64_t newest_ns() const;

 private:
  const size_t capacity_;
  // While scanning a max-heap by last_used_ns (the newest kept on top, the
  // first to give way); after Finish() sorted newest first, so the oldest
  // is at the back. Either way the newest is at the front.
  std::vector<Candidate> kept_;
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_EVICTION_CANDIDATES_H_
