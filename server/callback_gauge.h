// A gauge read at scrape time from a function, for values the server already
// tracks (the step queue's depth): nothing on the hot path updates it.
// Register it with the Exposer beside the Registry; the Exposer holds only a
// weak_ptr, so the owner keeps it (and what `read` reads) alive.
#ifndef RNNSERVE_SERVER_CALLBACK_GAUGE_H_
#define RNNSERVE_SERVER_CALLBACK_GAUGE_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace rnnserve::server {

class CallbackGauge : public prometheus::Collectable {
 public:
  // `read` must be thread-safe: scrapes may run at any time, concurrently.
  CallbackGauge(std::string name, std::string help, std::function<double()> read)
      : name_(std::move(name)), help_(std::move(help)), read_(std::move(read)) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    prometheus::ClientMetric metric;
    metric.gauge.value = read_();
    return {prometheus::MetricFamily{name_, help_, prometheus::MetricType::Gauge, {metric}}};
  }

 private:
  const std::string name_;
  const std::string help_;
  const std::function<double()> read_;
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_CALLBACK_GAUGE_H_
