// Reading one series out of a prometheus::Registry (or another Collectable,
// such as RnnServer::scrape_gauges()), for the server tests.
#ifndef RNNSERVE_TESTS_SERVER_METRIC_VALUE_H_
#define RNNSERVE_TESTS_SERVER_METRIC_VALUE_H_

#include <map>
#include <string>

#include "prometheus/collectable.h"

namespace rnnserve::server {

// The value of `family` for the series whose labels include `labels`: a
// counter or gauge value, a histogram's sample count; -1 when absent.
inline double MetricValue(prometheus::Collectable& registry, const std::string& family,
                          const std::map<std::string, std::string>& labels) {
  for (const prometheus::MetricFamily& f : registry.Collect()) {
    if (f.name != family) continue;
    for (const prometheus::ClientMetric& m : f.metric) {
      int matched = 0;
      for (const prometheus::ClientMetric::Label& l : m.label) {
        const auto it = labels.find(l.name);
        matched += it != labels.end() && it->second == l.value;
      }
      if (matched != static_cast<int>(labels.size())) continue;
      if (f.type == prometheus::MetricType::Histogram) {
        return static_cast<double>(m.histogram.sample_count);
      }
      return f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
    }
  }
  return -1;
}

}  // namespace rnnserve::server

#endif  // RNNSERVE_TESTS_SERVER_METRIC_VALUE_H_
