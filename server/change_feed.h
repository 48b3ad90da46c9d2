// The ids of the sessions the checkpoint writer must visit: those whose
// state changed since their last checkpoint, each reported once, when it
// first changes (Session::MarkChanged), and the copies the session tier
// closed as stale (to drop after their grace). The writer visits those
// instead of every live session: with 100 000 sessions, a pass over all of
// them took every session's lock, under the SCHED_IDLE writer that any step
// preempts, and walked through all their memory every interval, for the few
// thousand that changed (README Performance, "Session store").
// Thread-safe.

#ifndef RNNSERVE_SERVER_CHANGE_FEED_H_
#define RNNSERVE_SERVER_CHANGE_FEED_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace rnnserve::server {

class ChangeFeed {
 public:
  void Add(absl::string_view id) {
    absl::MutexLock lock(&mu_);
    ids_.emplace_back(id);
  }
  // Every id added since the last call, oldest first. An id may appear
  // twice (a session ended and started again); a session gone since is the
  // reader's to skip.
  std::vector<std::string> Take() {
    std::vector<std::string> taken;
    absl::MutexLock lock(&mu_);
    taken.swap(ids_);
    return taken;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> ids_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_CHANGE_FEED_H_
