// Claims the sessions started here in the session store, off the step path
// (server/cluster/session_tier.h): a start queues its session and is
// answered at once; this thread claims the queued sessions in pipelined
// batches (one round trip for up to kBatch), within about a round trip of
// the start, and tells each previous owner that is another replica to drop
// its copy. While Redis does not answer, starts are not queued; the
// checkpoint writer queues the sessions still unclaimed once it answers.
// Thread-safe.
#ifndef RNNSERVE_SERVER_CLUSTER_START_CLAIMER_H_
#define RNNSERVE_SERVER_CLUSTER_START_CLAIMER_H_

#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/session_store.h"

namespace rnnserve::cluster {

class SessionTier;

class StartClaimer {
 public:
  static constexpr int kBatch = 256;

  explicit StartClaimer(SessionTier* tier) : tier_(tier) {}  // Not owned.
  ~StartClaimer();                                           // Stop().
  StartClaimer(const StartClaimer&) = delete;
  StartClaimer& operator=(const StartClaimer&) = delete;

  void Start();
  // Claims what is queued, then stops.
  void Stop();
  void Add(server::SessionPtr session);

 private:
  void Loop();
  void ClaimBatch(std::vector<server::SessionPtr>& batch);

  SessionTier* const tier_;
  absl::Mutex mu_;
  std::vector<server::SessionPtr> pending_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace rnnserve::cluster

#endif  // RNNSERVE_SERVER_CLUSTER_START_CLAIMER_H_
