// The session tier's metrics (README "Metrics"; alerts in
// deploy/prometheus/rules): checkpoint latency, batch size and lag, pulls by
// where the state came from, Redis errors and whether Redis answers, and the
// stale copies dropped. Registered only when --session_store is set.
#ifndef RNNSERVE_SERVER_CLUSTER_SESSION_TIER_METRICS_H_
#define RNNSERVE_SERVER_CLUSTER_SESSION_TIER_METRICS_H_

#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace rnnserve::cluster {

// Where a pulled session's state came from.
enum class PullSource { kPeer, kCheckpoint, kReleased, kNone };

struct SessionTierMetrics {
  explicit SessionTierMetrics(prometheus::Registry& registry);

  prometheus::Counter& pulls(PullSource source);

  prometheus::Histogram& checkpoint_seconds;         // one batch's round trip
  prometheus::Histogram& checkpoint_batch_sessions;  // sessions in one batch
  prometheus::Gauge& checkpoint_lag_seconds;         // oldest change not checkpointed
  prometheus::Counter& store_errors_total;
  prometheus::Gauge& store_up;
  prometheus::Counter& sessions_fenced_total;

 private:
  prometheus::Counter* pulls_peer_;
  prometheus::Counter* pulls_checkpoint_;
  prometheus::Counter* pulls_released_;
  prometheus::Counter* pulls_none_;
};

}  // namespace rnnserve::cluster

#endif  // RNNSERVE_SERVER_CLUSTER_SESSION_TIER_METRICS_H_
