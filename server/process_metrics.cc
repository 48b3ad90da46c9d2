#include "server/process_metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "prometheus/client_metric.h"
#include "prometheus/metric_type.h"
#include "util/file.h"
#include "util/proc_stat.h"

namespace rnnserve::server {
namespace {

// Indices into util::ProcStatFields: proc(5)'s field numbers.
constexpr int kUtime = 14 - util::kFirstProcStatField;
constexpr int kStime = 15 - util::kFirstProcStatField;
constexpr int kStartTime = 22 - util::kFirstProcStatField;
constexpr int kVsize = 23 - util::kFirstProcStatField;
constexpr int kRss = 24 - util::kFirstProcStatField;

std::optional<std::string> ReadFile(const std::string& path) {
  absl::StatusOr<std::string> contents = util::ReadFileToString(path);
  if (!contents.ok()) return std::nullopt;
  return *std::move(contents);
}

std::optional<double> Field(const std::vector<std::string>& fields, int index) {
  uint64_t value;
  if (index >= static_cast<int>(fields.size()) || !absl::SimpleAtoi(fields[index], &value)) {
    return std::nullopt;
  }
  return static_cast<double>(value);
}

// Seconds since the epoch at boot: "btime" in /proc/stat.
std::optional<double> BootTime(const std::string& proc_root) {
  std::optional<std::string> stat = ReadFile(proc_root + "/stat");
  if (!stat) return std::nullopt;
  for (absl::string_view line : absl::StrSplit(*stat, '\n')) {
    if (!absl::ConsumePrefix(&line, "btime ")) continue;
    uint64_t btime;
    if (absl::SimpleAtoi(line, &btime)) return static_cast<double>(btime);
  }
  return std::nullopt;
}

// The soft "Max open files" limit; none when it is "unlimited".
std::optional<double> MaxFds(const std::string& proc_root) {
  std::optional<std::string> limits = ReadFile(proc_root + "/self/limits");
  if (!limits) return std::nullopt;
  for (absl::string_view line : absl::StrSplit(*limits, '\n')) {
    if (!absl::ConsumePrefix(&line, "Max open files")) continue;
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    uint64_t soft;
    if (!fields.empty() && absl::SimpleAtoi(fields[0], &soft)) return static_cast<double>(soft);
  }
  return std::nullopt;
}

std::optional<double> OpenFds(const std::string& proc_root) {
  DIR* dir = opendir((proc_root + "/self/fd").c_str());
  if (dir == nullptr) return std::nullopt;
  double count = 0;
  while (const dirent* entry = readdir(dir)) {
    const absl::string_view name = entry->d_name;
    if (name != "." && name != "..") ++count;
  }
  closedir(dir);
  return count > 0 ? count - 1 : 0;  // Not the descriptor opendir() itself holds.
}

void Add(std::vector<prometheus::MetricFamily>& families, const char* name, const char* help,
         prometheus::MetricType type, std::optional<double> value) {
  if (!value) return;
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = *value;
  } else {
    metric.gauge.value = *value;
  }
  families.push_back({.name = name, .help = help, .type = type, .metric = {std::move(metric)}});
}

}  // namespace

ProcessMetrics::ProcessMetrics(std::string proc_root) : proc_root_(std::move(proc_root)) {}

std::vector<prometheus::MetricFamily> ProcessMetrics::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> families;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page_size = static_cast<double>(sysconf(_SC_PAGESIZE));

  std::vector<std::string> stat;
  if (std::optional<std::string> contents = ReadFile(proc_root_ + "/self/stat")) {
    stat = util::ProcStatFields(*contents);
  }
  std::optional<double> cpu, rss, start;
  if (auto utime = Field(stat, kUtime), stime = Field(stat, kStime); utime && stime && ticks > 0) {
    cpu = (*utime + *stime) / ticks;
  }
  if (auto pages = Field(stat, kRss); pages && page_size > 0) rss = *pages * page_size;
  if (auto since_boot = Field(stat, kStartTime); since_boot && ticks > 0) {
    if (std::optional<double> boot = BootTime(proc_root_)) start = *boot + *since_boot / ticks;
  }

  Add(families, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
      MetricType::Counter, cpu);
  Add(families, "process_open_fds", "Number of open file descriptors.", MetricType::Gauge,
      OpenFds(proc_root_));
  Add(families, "process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge,
      MaxFds(proc_root_));
  Add(families, "process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge,
      Field(stat, kVsize));
  Add(families, "process_resident_memory_bytes", "Resident memory size in bytes.",
      MetricType::Gauge, rss);
  Add(families, "process_start_time_seconds",
      "Start time of the process since unix epoch in seconds.", MetricType::Gauge, start);
  return families;
}

}  // namespace rnnserve::server
