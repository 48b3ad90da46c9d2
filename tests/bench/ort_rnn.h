// ONNX Runtime's CPU LSTM / GRU on the benchmark shapes, the second peer the
// kernel is measured against (issue 17). Built only when CMake is given
// RNNSERVE_BENCH_ORT_LIBRARY (the libonnxruntime.so.1 of the onnxruntime-node
// npm package); nothing in the engine depends on it.
#ifndef RNNSERVE_TESTS_BENCH_ORT_RNN_H_
#define RNNSERVE_TESTS_BENCH_ORT_RNN_H_

#include <memory>
#include <string>

namespace rnnserve::bench {

enum class OrtCell { kLstm, kGru };

// One ONNX Runtime session over a PyTorch-exported model of `layers` layers
// (tests/bench/ort_model.py writes it into `model_dir` the first time a shape
// is asked for), one intra-op and one inter-op thread, all graph
// optimizations. Each Run() advances `batch` sessions by `steps` steps from
// the states the previous Run() left, like a stateful server; inputs and
// outputs are bound to buffers allocated once. CHECK-fails if ONNX Runtime
// refuses the model.
class OrtRnn {
 public:
  OrtRnn(OrtCell cell, int input, int hidden, int layers, int batch, int steps);
  ~OrtRnn();

  void Run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "ONNX Runtime 1.30.0 (CPU, 1 thread)".
std::string OrtDescription();

}  // namespace rnnserve::bench

#endif  // RNNSERVE_TESTS_BENCH_ORT_RNN_H_
