#include "server/cluster/session_tier_metrics.h"

namespace rnnserve::cluster {
namespace {

// A batch's round trip to Redis: 100 µs on loopback to seconds when it is
// slow or far; sessions per batch: 1 to the batch limit of 256.
const prometheus::Histogram::BucketBoundaries kSecondsBuckets = {
    1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5};
const prometheus::Histogram::BucketBoundaries kBatchBuckets = {1, 2, 4, 8, 16, 32, 64, 128, 256};

prometheus::Family<prometheus::Counter>& PullsFamily(prometheus::Registry& registry) {
  return prometheus::BuildCounter()
      .Name("rnnserve_session_pulls_total")
      .Help(
          "Sessions asked for here that another replica or a checkpoint held, by where the "
          "state came from: peer (exact, from its live owner), released (exact, the final "
          "checkpoint of a replica that stopped gracefully), checkpoint (the owner was gone: "
          "the steps after it are resent by the client), none (NOT_FOUND).")
      .Register(registry);
}

}  // namespace

SessionTierMetrics::SessionTierMetrics(prometheus::Registry& registry)
    : checkpoint_seconds(
          prometheus::BuildHistogram()
              .Name("rnnserve_checkpoint_seconds")
              .Help("Time to write one pipelined batch of session checkpoints to Redis.")
              .Register(registry)
              .Add({}, kSecondsBuckets)),
      checkpoint_batch_sessions(prometheus::BuildHistogram()
                                    .Name("rnnserve_checkpoint_batch_sessions")
                                    .Help("Sessions written in one checkpoint batch.")
                                    .Register(registry)
                                    .Add({}, kBatchBuckets)),
      checkpoint_lag_seconds(
          prometheus::BuildGauge()
              .Name("rnnserve_checkpoint_lag_seconds")
              .Help("Age of the oldest session change no checkpoint holds yet (0: none); what "
                    "a crash would lose.")
              .Register(registry)
              .Add({})),
      store_errors_total(prometheus::BuildCounter()
                             .Name("rnnserve_session_store_errors_total")
                             .Help("Redis commands or connects that failed.")
                             .Register(registry)
                             .Add({})),
      store_up(prometheus::BuildGauge()
                   .Name("rnnserve_session_store_up")
                   .Help("1 when the last round trip to the session store succeeded; 0 while "
                         "it is unreachable (sessions are served from memory meanwhile).")
                   .Register(registry)
                   .Add({})),
      sessions_fenced_total(
          prometheus::BuildCounter()
              .Name("rnnserve_sessions_fenced_total")
              .Help("Local session copies dropped because another replica owns the session "
                    "now (a newer epoch in the session store); a copy handed over to it is "
                    "not counted.")
              .Register(registry)
              .Add({})) {
  prometheus::Family<prometheus::Counter>& pulls = PullsFamily(registry);
  pulls_peer_ = &pulls.Add({{"source", "peer"}});
  pulls_checkpoint_ = &pulls.Add({{"source", "checkpoint"}});
  pulls_released_ = &pulls.Add({{"source", "released"}});
  pulls_none_ = &pulls.Add({{"source", "none"}});
}

prometheus::Counter& SessionTierMetrics::pulls(PullSource source) {
  switch (source) {
    case PullSource::kPeer:
      return *pulls_peer_;
    case PullSource::kCheckpoint:
      return *pulls_checkpoint_;
    case PullSource::kReleased:
      return *pulls_released_;
    case PullSource::kNone:
      break;
  }
  return *pulls_none_;
}

}  // namespace rnnserve::cluster
