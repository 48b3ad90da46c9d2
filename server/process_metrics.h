// The process metrics every Prometheus exporter offers (issue 4, "Metrics"),
// named and typed as the official client libraries define them:
// process_resident_memory_bytes, process_virtual_memory_bytes,
// process_cpu_seconds_total, process_open_fds, process_max_fds and
// process_start_time_seconds. Linux only: read from /proc on each scrape.
#ifndef RNNSERVE_SERVER_PROCESS_METRICS_H_
#define RNNSERVE_SERVER_PROCESS_METRICS_H_

#include <string>
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace rnnserve::server {

// A Collectable for the Exposer, registered next to the Registry:
//   exposer.RegisterCollectable(registry);
//   exposer.RegisterCollectable(std::make_shared<ProcessMetrics>());
// Stateless, so Collect() may run on any number of threads at once. A /proc
// file it cannot read or parse drops the metrics drawn from it; it never
// throws or fails the scrape.
class ProcessMetrics : public prometheus::Collectable {
 public:
  // `proc_root` is where procfs is mounted; tests point it elsewhere.
  explicit ProcessMetrics(std::string proc_root = "/proc");

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::string proc_root_;
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_PROCESS_METRICS_H_
