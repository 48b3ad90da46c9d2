// Reads one value from a server's Prometheus /metrics page, for bench's
// server-CPU figure (process_cpu_seconds_total before and after the run).
// A plain HTTP/1.0 GET over a socket: the client links no HTTP library.
#ifndef RNNSERVE_CLIENT_BENCH_METRICS_SCRAPER_H_
#define RNNSERVE_CLIENT_BENCH_METRICS_SCRAPER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace rnnserve::client::bench {

// The body of http://HOST:PORT/metrics. UNAVAILABLE when the address cannot
// be reached or answers anything but 200 within `timeout`.
absl::StatusOr<std::string> FetchMetrics(const std::string& host_port, absl::Duration timeout);

// The value of the sample `name` without labels (or the sum over its label
// sets) in a Prometheus text exposition; NOT_FOUND when absent.
absl::StatusOr<double> MetricValue(absl::string_view exposition, absl::string_view name);

}  // namespace rnnserve::client::bench

#endif  // RNNSERVE_CLIENT_BENCH_METRICS_SCRAPER_H_
