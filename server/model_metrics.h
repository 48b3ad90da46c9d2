// The Prometheus series a model version's steps and sessions update
// (server/metrics.h registers them; DESIGN.md section 5).
#ifndef RNNSERVE_SERVER_MODEL_METRICS_H_
#define RNNSERVE_SERVER_MODEL_METRICS_H_

#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"

namespace rnnserve::server {

// The series of one model version, labelled {model, version}. Every member is
// thread-safe to update (prometheus-cpp metrics are atomic or self-locked).
struct ModelMetrics {
  prometheus::Histogram& step_latency_seconds;  // Receive to response, per step request.
  prometheus::Histogram& queue_wait_seconds;    // Submit to the start of its batch.
  prometheus::Histogram& compute_seconds;       // One batched step.
  prometheus::Histogram& batch_size;            // Sessions in one batched step.
  prometheus::Counter& steps_total;             // Recurrent steps: a chunk of T counts T.
  prometheus::Gauge& active_sessions;
  prometheus::Counter& sessions_created_total;
  prometheus::Counter& sessions_ended_total;    // Ended by the client.
  prometheus::Counter& sessions_expired_total;  // Reaped after the idle timeout.
  prometheus::Counter& sessions_evicted_total;  // Dropped for a new one at max sessions.
  prometheus::Gauge& model_load_seconds;
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_MODEL_METRICS_H_
