// The labels and figures of a loaded model version that the metrics
// export (server/metrics.h: SetModelInfo).
#ifndef RNNSERVE_SERVER_MODEL_INFO_H_
#define RNNSERVE_SERVER_MODEL_INFO_H_

#include <cstdint>
#include <string>

namespace rnnserve::server {

// What rnnserve_model_info{model, version, cell, format, fingerprint, weights}
// = 1 says about a loaded model, how long it took to load and
// (rnnserve_model_weight_bytes) the bytes of its packed weights.
struct ModelInfo {
  std::string model;
  int version = 0;
  std::string cell;         // e.g. "lstm", "gru".
  std::string format;       // e.g. "safetensors", "onnx".
  std::string fingerprint;  // Of the weights, to tell replicas' versions apart.
  double load_seconds = 0;
  std::string weights = "fp32";  // the weights' precision: "fp32", "bf16", "int8"
  int64_t weight_bytes = 0;
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_MODEL_INFO_H_
