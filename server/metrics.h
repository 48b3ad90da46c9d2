// The server's Prometheus metrics (DESIGN.md section 5; issue 4, "Metrics"):
// every family is registered once at startup, the hot path only increments
// Counter&/Histogram&/Gauge& it looked up once per model. Labels never carry a
// session id, so the number of series is bounded by models x versions and
// methods x codes.
#ifndef RNNSERVE_SERVER_METRICS_H_
#define RNNSERVE_SERVER_METRICS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "server/model_info.h"
#include "server/model_metrics.h"
#include "server/request_protocol.h"

namespace rnnserve::server {

// Owns the label sets of rnnserve_* metrics on a Registry that `main` owns.
// Thread-safe: ForModel() and CountRequest() take mu_ only to find or create a
// series; the references they hand out stay valid as long as this object and
// the Registry, and are updated without any lock of ours.
class ServerMetrics {
 public:
  // Registers every family on `registry`, which must outlive this object.
  // Throws (prometheus-cpp's std::invalid_argument) only here, at startup, and
  // only if a name clashes with a family already registered with another type.
  explicit ServerMetrics(prometheus::Registry& registry);
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  // The series of model `name` at `version`, created on first use; the same
  // object for the same pair. Look it up once per model, not per step.
  ModelMetrics& ForModel(const std::string& name, int version) ABSL_LOCKS_EXCLUDED(mu_);

  // rnnserve_requests_total{protocol, method, code}: `protocol` is
  // "rnnserve.v1" or "inference" (the package), `method` the RPC name
  // ("StreamSteps", "ModelInfer"), `code` the gRPC code's name
  // ("INVALID_ARGUMENT"). A stream counts each of its messages.
  void CountRequest(RequestProtocol protocol, const std::string& method, absl::StatusCode code)
      ABSL_LOCKS_EXCLUDED(mu_);
  // A native (rnnserve.v1) request.
  void CountRequest(const std::string& method, absl::StatusCode code) {
    CountRequest(RequestProtocol::kNative, method, code);
  }

  // Sets rnnserve_model_info{...} = 1, rnnserve_model_load_seconds and
  // rnnserve_model_weight_bytes for `info.model` at `info.version` (the
  // info series of an earlier load of that version goes). Call once per
  // loaded model version.
  void SetModelInfo(const ModelInfo& info) ABSL_LOCKS_EXCLUDED(mu_);
  // Removes the rnnserve_model_info and rnnserve_model_weight_bytes series of
  // `name` at `version`, a version no longer loaded, so what counts loaded
  // versions stops counting it. Its counters and histograms stay: history.
  void ClearModelInfo(const std::string& name, int version) ABSL_LOCKS_EXCLUDED(mu_);

  // Recurrent steps computed since start, over every model version ever
  // served (rnnserve_steps_total summed).
  double StepsComputed() ABSL_LOCKS_EXCLUDED(mu_);

  // rnnserve_sessions_max: the --max_sessions limit, so alerts can compare
  // sum(rnnserve_active_sessions) against it.
  void SetSessionLimit(int64_t max_sessions) { sessions_max_.Set(static_cast<double>(max_sessions)); }

 private:
  prometheus::Family<prometheus::Histogram>& step_latency_;
  prometheus::Family<prometheus::Histogram>& queue_wait_;
  prometheus::Family<prometheus::Histogram>& compute_;
  prometheus::Family<prometheus::Histogram>& batch_size_;
  prometheus::Family<prometheus::Counter>& steps_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Gauge>& active_sessions_;
  prometheus::Family<prometheus::Counter>& sessions_created_;
  prometheus::Family<prometheus::Counter>& sessions_ended_;
  prometheus::Family<prometheus::Counter>& sessions_expired_;
  prometheus::Family<prometheus::Counter>& sessions_evicted_;
  prometheus::Family<prometheus::Gauge>& model_load_;
  prometheus::Family<prometheus::Gauge>& model_info_;
  prometheus::Family<prometheus::Gauge>& model_weight_bytes_;
  prometheus::Gauge& sessions_max_;

  absl::Mutex mu_;
  absl::flat_hash_map<std::pair<std::string, int>, std::unique_ptr<ModelMetrics>> models_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::tuple<RequestProtocol, std::string, absl::StatusCode>,
                      prometheus::Counter*>
      requests_by_ ABSL_GUARDED_BY(mu_);
  // The series SetModelInfo() added for each loaded version.
  struct InfoSeries {
    prometheus::Gauge* info = nullptr;
    prometheus::Gauge* weight_bytes = nullptr;
  };
  absl::flat_hash_map<std::pair<std::string, int>, InfoSeries> info_series_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_METRICS_H_
