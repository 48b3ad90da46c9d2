// ServerMetrics and ProcessMetrics read back through prometheus-cpp: the
// buckets, one object per model version, concurrent updates, the exposition
// names every metric, is served over HTTP and (when promtool is installed)
// passes `promtool check metrics`. That the counts follow what the server
// does is server_metrics_test.cc's, through gRPC.
#include "server/metrics.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "server/process_metrics.h"
#include "tests/common/http_get.h"

namespace rnnserve::server {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

// The series of family `name` whose labels include every pair of `labels`,
// or null.
const prometheus::ClientMetric* Find(const std::vector<prometheus::MetricFamily>& families,
                                     const std::string& name, const prometheus::Labels& labels) {
  for (const prometheus::MetricFamily& family : families) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      int matched = 0;
      for (const prometheus::ClientMetric::Label& label : metric.label) {
        auto it = labels.find(label.name);
        if (it != labels.end() && it->second == label.value) ++matched;
      }
      if (matched == static_cast<int>(labels.size())) return &metric;
    }
  }
  return nullptr;
}

const prometheus::Labels kGru = {{"model", "gru"}, {"version", "3"}};

TEST(ServerMetricsTest, BucketsSpanTenMicrosecondsToOneSecondAndBatchesTo1024) {
  prometheus::Registry registry;
  ServerMetrics metrics(registry);
  metrics.ForModel("gru", 3);
  const std::vector<prometheus::MetricFamily> families = registry.Collect();
  const auto& latency = Find(families, "rnnserve_step_latency_seconds", kGru)->histogram.bucket;
  ASSERT_THAT(latency, SizeIs(17));  // 16 bounds and +Inf.
  EXPECT_EQ(latency.front().upper_bound, 1e-5);
  EXPECT_EQ(latency[1].upper_bound, 2.5e-5);
  EXPECT_EQ(latency[15].upper_bound, 1.0);
  const auto& batch = Find(families, "rnnserve_batch_size", kGru)->histogram.bucket;
  ASSERT_THAT(batch, SizeIs(12));  // 1, 2, ..., 1024 and +Inf.
  EXPECT_EQ(batch.front().upper_bound, 1);
  EXPECT_EQ(batch[10].upper_bound, 1024);
}

TEST(ServerMetricsTest, ForModelReturnsTheSameObjectPerModelVersion) {
  prometheus::Registry registry;
  ServerMetrics metrics(registry);
  ModelMetrics& first = metrics.ForModel("gru", 3);
  EXPECT_EQ(&metrics.ForModel("gru", 3), &first);
  EXPECT_NE(&metrics.ForModel("gru", 4), &first);
  EXPECT_NE(&metrics.ForModel("lstm", 3), &first);
  EXPECT_EQ(&metrics.ForModel("gru", 3).steps_total, &first.steps_total);
}

TEST(ServerMetricsTest, ConcurrentUpdatesAllCount) {
  prometheus::Registry registry;
  ServerMetrics metrics(registry);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 1000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&metrics] {
      ModelMetrics& gru = metrics.ForModel("gru", 3);
      for (int i = 0; i < kPerThread; ++i) {
        gru.steps_total.Increment();
        gru.step_latency_seconds.Observe(1e-3);
        metrics.CountRequest("Step", absl::StatusCode::kNotFound);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const std::vector<prometheus::MetricFamily> families = registry.Collect();
  EXPECT_EQ(Find(families, "rnnserve_steps_total", kGru)->counter.value, kThreads * kPerThread);
  EXPECT_EQ(Find(families, "rnnserve_step_latency_seconds", kGru)->histogram.sample_count,
            kThreads * kPerThread);
  EXPECT_EQ(Find(families, "rnnserve_requests_total", {{"method", "Step"}, {"code", "NOT_FOUND"}})
                ->counter.value,
            kThreads * kPerThread);
}

TEST(ServerMetricsTest, ModelInfoIsOneWithItsLabelsAndLoadTime) {
  prometheus::Registry registry;
  ServerMetrics metrics(registry);
  metrics.SetModelInfo({.model = "gru",
                        .version = 3,
                        .cell = "gru",
                        .format = "safetensors",
                        .fingerprint = "ab12",
                        .load_seconds = 0.25,
                        .weights = "bf16",
                        .weight_bytes = 4096});
  const std::vector<prometheus::MetricFamily> families = registry.Collect();
  const prometheus::ClientMetric* info = Find(families, "rnnserve_model_info",
                                              {{"model", "gru"},
                                               {"version", "3"},
                                               {"cell", "gru"},
                                               {"format", "safetensors"},
                                               {"fingerprint", "ab12"},
                                               {"weights", "bf16"}});
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->gauge.value, 1);
  EXPECT_EQ(Find(families, "rnnserve_model_load_seconds", kGru)->gauge.value, 0.25);
  EXPECT_EQ(Find(families, "rnnserve_model_weight_bytes", kGru)->gauge.value, 4096);
}

TEST(ProcessMetricsTest, PresentAndPlausible) {
  const std::vector<prometheus::MetricFamily> families = ProcessMetrics().Collect();
  auto value = [&](const std::string& name) {
    const prometheus::ClientMetric* metric = Find(families, name, {});
    EXPECT_NE(metric, nullptr) << name;
    return metric == nullptr ? -1.0 : metric->gauge.value + metric->counter.value;
  };
  EXPECT_GT(value("process_resident_memory_bytes"), 0);
  EXPECT_GE(value("process_virtual_memory_bytes"), value("process_resident_memory_bytes"));
  EXPECT_GE(value("process_cpu_seconds_total"), 0);
  EXPECT_GE(value("process_open_fds"), 3);  // At least stdin, stdout and stderr.
  EXPECT_GE(value("process_max_fds"), value("process_open_fds"));
  const double now = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  const double start = value("process_start_time_seconds");
  EXPECT_LE(start, now + 1);  // Clock ticks round; allow a second.
  EXPECT_GT(start, now - absl::ToDoubleSeconds(absl::Hours(24)));
  for (const prometheus::MetricFamily& family : families) {
    EXPECT_EQ(family.type, family.name == "process_cpu_seconds_total"
                               ? prometheus::MetricType::Counter
                               : prometheus::MetricType::Gauge)
        << family.name;
  }
}

TEST(ProcessMetricsTest, UnreadableProcSkipsMetricsInsteadOfFailing) {
  EXPECT_THAT(ProcessMetrics("/nonexistent/proc").Collect(), SizeIs(0));
}

// A registry holding a series of every rnnserve_* family, and process metrics.
class MetricsExpositionTest : public ::testing::Test {
 protected:
  MetricsExpositionTest() : registry_(std::make_shared<prometheus::Registry>()) {
    metrics_ = std::make_unique<ServerMetrics>(*registry_);
    ModelMetrics& gru = metrics_->ForModel("gru", 3);
    gru.steps_total.Increment(4);
    gru.step_latency_seconds.Observe(3e-4);
    gru.batch_size.Observe(2);
    metrics_->CountRequest("StreamSteps", absl::StatusCode::kOk);
    metrics_->CountRequest("StreamSteps", absl::StatusCode::kInvalidArgument);
    metrics_->SetModelInfo({.model = "gru",
                            .version = 3,
                            .cell = "gru",
                            .format = "onnx",
                            .fingerprint = "ab12",
                            .load_seconds = 0.01});
  }

  std::string Exposition() const {
    std::vector<prometheus::MetricFamily> families = registry_->Collect();
    for (prometheus::MetricFamily& family : process_->Collect()) {
      families.push_back(std::move(family));
    }
    return prometheus::TextSerializer().Serialize(families);
  }

  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<ServerMetrics> metrics_;
  std::shared_ptr<ProcessMetrics> process_ = std::make_shared<ProcessMetrics>();
};

TEST_F(MetricsExpositionTest, TextNamesEveryMetric) {
  const std::string text = Exposition();
  for (const char* name :
       {"rnnserve_step_latency_seconds", "rnnserve_queue_wait_seconds", "rnnserve_compute_seconds",
        "rnnserve_batch_size", "rnnserve_steps_total", "rnnserve_requests_total",
        "rnnserve_active_sessions", "rnnserve_sessions_created_total",
        "rnnserve_sessions_ended_total", "rnnserve_sessions_expired_total",
        "rnnserve_sessions_evicted_total", "rnnserve_model_load_seconds", "rnnserve_model_info",
        "rnnserve_model_weight_bytes", "process_resident_memory_bytes",
        "process_virtual_memory_bytes", "process_cpu_seconds_total", "process_open_fds",
        "process_max_fds", "process_start_time_seconds"}) {
    EXPECT_THAT(text, HasSubstr(absl::StrCat("\n# TYPE ", name, " "))) << name;
  }
  EXPECT_THAT(text, HasSubstr("code=\"INVALID_ARGUMENT\""));
  EXPECT_THAT(text,
              HasSubstr("rnnserve_batch_size_bucket{model=\"gru\",version=\"3\",le=\"1024\"}"));
}

using ::rnnserve::testing::HttpGet;

TEST_F(MetricsExpositionTest, ServedOverHttp) {
  prometheus::Exposer exposer("127.0.0.1:0");
  exposer.RegisterCollectable(registry_);
  exposer.RegisterCollectable(process_);
  const std::vector<int> ports = exposer.GetListeningPorts();
  ASSERT_THAT(ports, SizeIs(1));
  ASSERT_GT(ports[0], 0);
  const std::string response = HttpGet(ports[0], "/metrics");
  EXPECT_THAT(response, HasSubstr(" 200 "));
  EXPECT_THAT(response, HasSubstr("rnnserve_steps_total{model=\"gru\",version=\"3\"} 4"));
  EXPECT_THAT(response, HasSubstr("process_resident_memory_bytes"));
}

TEST_F(MetricsExpositionTest, PassesPromtoolCheck) {
  constexpr char kPromtool[] = "/usr/bin/promtool";
  if (!std::filesystem::exists(kPromtool)) {
    GTEST_SKIP() << kPromtool << " not found; install Debian package prometheus to run this";
  }
  const std::string path = ::testing::TempDir() + "/rnnserve_metrics_test.prom";
  {
    std::ofstream out(path);
    out << Exposition();
    ASSERT_TRUE(out.good()) << path;
  }
  const std::string command = absl::StrCat(kPromtool, " check metrics < ", path);
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace rnnserve::server
