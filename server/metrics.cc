#include "server/metrics.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace rnnserve::server {
namespace {

// A 1-2.5-5 series from 10 us to 1 s: steps take 10 us to 1 s (DESIGN.md
// section 5). Written out so the bounds print exactly in the exposition.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* const kBuckets = new prometheus::Histogram::BucketBoundaries{
      1e-5, 2.5e-5, 5e-5,   1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3,
      5e-3, 1e-2,   2.5e-2, 5e-2, 0.1,    0.25, 0.5,  1.0};
  return *kBuckets;
}

// 1, 2, 4, ..., 1024: batches are as wide as the sessions waiting.
const prometheus::Histogram::BucketBoundaries& BatchSizeBuckets() {
  static const auto* const kBuckets = [] {
    auto* buckets = new prometheus::Histogram::BucketBoundaries;
    for (int size = 1; size <= 1024; size *= 2) buckets->push_back(size);
    return buckets;
  }();
  return *kBuckets;
}

prometheus::Family<prometheus::Histogram>& AddHistogram(prometheus::Registry& registry,
                                                        const std::string& name,
                                                        const std::string& help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry);
}

prometheus::Family<prometheus::Counter>& AddCounter(prometheus::Registry& registry,
                                                    const std::string& name,
                                                    const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

prometheus::Family<prometheus::Gauge>& AddGauge(prometheus::Registry& registry,
                                                const std::string& name, const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}

// Every RPC rnnserve serves, so each has its OK series from the start: a
// series born at its first request hides that request from rate().
constexpr const char* kNativeMethods[] = {
    "StreamSteps",     "Step",        "RunSequence", "EndSession", "ResetSession",
    "DescribeSession", "ExportState", "ImportState", "ListModels", "DescribeModel"};
constexpr const char* kOpenInferenceMethods[] = {"ServerLive",      "ServerReady",   "ModelReady",
                                                 "ServerMetadata",  "ModelMetadata", "ModelInfer",
                                                 "ModelStreamInfer"};
// The Open Inference Protocol over HTTP/REST: the same method names for the
// same endpoints (ModelInfer is POST .../infer), without the stream.
constexpr const char* kOpenInferenceHttpMethods[] = {
    "ServerLive", "ServerReady", "ModelReady", "ServerMetadata", "ModelMetadata", "ModelInfer"};

const char* ProtocolLabel(RequestProtocol protocol) {
  switch (protocol) {
    case RequestProtocol::kNative:
      return "rnnserve.v1";
    case RequestProtocol::kOpenInference:
      return "inference";
    case RequestProtocol::kOpenInferenceHttp:
      return "inference-http";
  }
  return "unknown";
}

prometheus::Labels ModelLabels(const std::string& name, int version) {
  return {{"model", name}, {"version", absl::StrCat(version)}};
}

}  // namespace

ServerMetrics::ServerMetrics(prometheus::Registry& registry)
    : step_latency_(AddHistogram(registry, "rnnserve_step_latency_seconds",
                                 "Step request latency, from receive to response.")),
      queue_wait_(AddHistogram(registry, "rnnserve_queue_wait_seconds",
                               "Time a step waits for its batch to start.")),
      compute_(AddHistogram(registry, "rnnserve_compute_seconds", "Time of one batched step.")),
      batch_size_(AddHistogram(registry, "rnnserve_batch_size", "Sessions in one batched step.")),
      steps_(AddCounter(registry, "rnnserve_steps_total",
                        "Recurrent steps computed; a chunk of T steps counts T.")),
      requests_(AddCounter(registry, "rnnserve_requests_total",
                           "Requests by API (protocol), RPC method and gRPC status code.")),
      active_sessions_(AddGauge(registry, "rnnserve_active_sessions", "Live sessions.")),
      sessions_created_(
          AddCounter(registry, "rnnserve_sessions_created_total", "Sessions created.")),
      sessions_ended_(
          AddCounter(registry, "rnnserve_sessions_ended_total", "Sessions ended by the client.")),
      sessions_expired_(AddCounter(registry, "rnnserve_sessions_expired_total",
                                   "Sessions ended after the idle timeout.")),
      sessions_evicted_(AddCounter(registry, "rnnserve_sessions_evicted_total",
                                   "Sessions evicted to make room at max sessions.")),
      model_load_(AddGauge(registry, "rnnserve_model_load_seconds",
                           "Time taken to load the model version.")),
      model_info_(AddGauge(registry, "rnnserve_model_info",
                           "Always 1; labels describe the loaded model version.")),
      model_weight_bytes_(AddGauge(registry, "rnnserve_model_weight_bytes",
                                   "Bytes of the model version's packed weight matrices.")),
      sessions_max_(AddGauge(registry, "rnnserve_sessions_max",
                             "Most live sessions the server keeps (all models).")
                        .Add({})) {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<RequestProtocol, const char*>> methods;
  for (const char* method : kNativeMethods) methods.emplace_back(RequestProtocol::kNative, method);
  for (const char* method : kOpenInferenceMethods) {
    methods.emplace_back(RequestProtocol::kOpenInference, method);
  }
  for (const char* method : kOpenInferenceHttpMethods) {
    methods.emplace_back(RequestProtocol::kOpenInferenceHttp, method);
  }
  for (const auto& [protocol, method] : methods) {
    requests_by_[{protocol, method, absl::StatusCode::kOk}] =
        &requests_.Add({{"protocol", ProtocolLabel(protocol)}, {"method", method}, {"code", "OK"}});
  }
}

ModelMetrics& ServerMetrics::ForModel(const std::string& name, int version) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<ModelMetrics>& metrics = models_[{name, version}];
  if (metrics == nullptr) {
    const prometheus::Labels labels = ModelLabels(name, version);
    metrics.reset(new ModelMetrics{
        .step_latency_seconds = step_latency_.Add(labels, LatencyBuckets()),
        .queue_wait_seconds = queue_wait_.Add(labels, LatencyBuckets()),
        .compute_seconds = compute_.Add(labels, LatencyBuckets()),
        .batch_size = batch_size_.Add(labels, BatchSizeBuckets()),
        .steps_total = steps_.Add(labels),
        .active_sessions = active_sessions_.Add(labels),
        .sessions_created_total = sessions_created_.Add(labels),
        .sessions_ended_total = sessions_ended_.Add(labels),
        .sessions_expired_total = sessions_expired_.Add(labels),
        .sessions_evicted_total = sessions_evicted_.Add(labels),
        .model_load_seconds = model_load_.Add(labels),
    });
  }
  return *metrics;
}

void ServerMetrics::CountRequest(RequestProtocol protocol, const std::string& method,
                                 absl::StatusCode code) {
  prometheus::Counter* counter;
  {
    absl::MutexLock lock(&mu_);
    prometheus::Counter*& cached = requests_by_[{protocol, method, code}];
    if (cached == nullptr) {
      cached = &requests_.Add({{"protocol", ProtocolLabel(protocol)},
                               {"method", method},
                               {"code", absl::StatusCodeToString(code)}});
    }
    counter = cached;
  }
  counter->Increment();
}

void ServerMetrics::SetModelInfo(const ModelInfo& info) {
  ForModel(info.model, info.version).model_load_seconds.Set(info.load_seconds);
  ClearModelInfo(info.model, info.version);
  prometheus::Labels labels = ModelLabels(info.model, info.version);
  InfoSeries series;
  series.weight_bytes = &model_weight_bytes_.Add(labels);
  series.weight_bytes->Set(static_cast<double>(info.weight_bytes));
  labels.emplace("cell", info.cell);
  labels.emplace("format", info.format);
  labels.emplace("fingerprint", info.fingerprint);
  labels.emplace("weights", info.weights);
  series.info = &model_info_.Add(labels);
  series.info->Set(1);
  absl::MutexLock lock(&mu_);
  info_series_[{info.model, info.version}] = series;
}

double ServerMetrics::StepsComputed() {
  absl::MutexLock lock(&mu_);
  double steps = 0;
  for (const auto& [key, metrics] : models_) steps += metrics->steps_total.Value();
  return steps;
}

void ServerMetrics::ClearModelInfo(const std::string& name, int version) {
  absl::MutexLock lock(&mu_);
  const auto it = info_series_.find({name, version});
  if (it == info_series_.end()) return;
  model_info_.Remove(it->second.info);
  model_weight_bytes_.Remove(it->second.weight_bytes);
  info_series_.erase(it);
}

}  // namespace rnnserve::server
