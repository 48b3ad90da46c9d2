// Kernel benchmarks (issue 6, DESIGN.md section 6): rnnserve's LayerStack
// beside oneDNN's RNN primitive on the same shapes in the same run, plus the
// machine's limits. Not a test: nothing here asserts a time.
//
//   kernel/<model>/T<steps>/B<batch>/{rnnserve,onednn}
//     B sessions advanced by T steps each in one call, the B sessions stepped
//     together at every step: LayerStack::StepChunks(), oneDNN's primitive
//     with [T, N = B] input. T1 is one step of a batch (Step()), T32 a chunk
//     of 32 steps per session. per_session_step: seconds per session-step,
//     i.e. the call's time / (T * B).
//   roofline/read/<model>: one pass over a buffer the size of the model's
//     weights (B = 1 streams every weight once per step).
//   roofline/fma: the core's FMA peak.
//
// One thread: oneDNN is limited to 1 OpenMP thread; times are process CPU
// time. tests/bench/kernel_report.py turns --benchmark_out JSON into the
// ratio table (README "Performance").
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "model/kernel_isa.h"
#include "model/layer_stack.h"
#include "tests/bench/roofline.h"
#include "tests/model/random_stack.h"
#ifdef RNNSERVE_BENCH_ONEDNN
#include "tests/bench/onednn_rnn.h"
#endif

namespace rnnserve::bench {
namespace {

using ::rnnserve::model::testing::RandomMatrix;
using ::rnnserve::model::testing::RandomStack;

enum class Cell { kLstm, kGru };

struct Shape {
  std::string name;
  Cell cell;
  int input, hidden, layers;

  int gates() const { return cell == Cell::kLstm ? 4 : 3; }
  // Weight floats a step reads: every layer's input and recurrent matrices.
  int64_t input_weights() const { return int64_t{input} * gates() * hidden; }
  int64_t weights() const {
    return input_weights() + (int64_t{layers} * 2 - 1) * hidden * gates() * hidden;
  }
  double flops_per_session_step() const { return 2.0 * weights(); }
};

const std::vector<Shape>& Shapes() {
  static const auto* shapes = new std::vector<Shape>{
      {"LSTM_64x256x2", Cell::kLstm, 64, 256, 2},
      {"LSTM_128x512x1", Cell::kLstm, 128, 512, 1},
      {"GRU_64x256x2", Cell::kGru, 64, 256, 2},
  };
  return *shapes;
}

void SetCounters(benchmark::State& state, const Shape& shape, int batch, int steps) {
  state.counters["per_session_step"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * batch * steps,
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["weight_bytes"] = static_cast<double>(shape.weights() * 4);
  state.counters["input_weight_bytes"] = static_cast<double>(shape.input_weights() * 4);
  state.counters["flops_per_session_step"] = shape.flops_per_session_step();
}

void BM_Rnnserve(benchmark::State& state, const Shape& shape, int batch, int steps) {
  const model::LayerStack stack =
      shape.cell == Cell::kLstm
          ? RandomStack<model::LstmCell>(shape.input, shape.hidden, shape.layers)
          : RandomStack<model::GruCell>(shape.input, shape.hidden, shape.layers);
  std::vector<std::vector<float>> states(batch, std::vector<float>(stack.state_size()));
  std::vector<float*> pointers;
  for (auto& s : states) pointers.push_back(s.data());
  std::mt19937 rng(11);
  const model::RowMatrix input = RandomMatrix(steps * batch, stack.input_size(), rng);
  model::RowMatrix output(steps * batch, stack.output_size());
  model::Workspace workspace;
  const auto x = model::StepInput::Floats(input.data(), input.rows());
  // Outside the timing: the first call grows the workspace (page faults).
  (void)stack.StepChunks(pointers, steps, x, output.data(), workspace);
  for (auto _ : state) {
    benchmark::DoNotOptimize(stack.StepChunks(pointers, steps, x, output.data(), workspace));
    benchmark::ClobberMemory();
  }
  SetCounters(state, shape, batch, steps);
  state.SetLabel(model::KernelIsaName(model::DefaultKernelIsa()));
}

#ifdef RNNSERVE_BENCH_ONEDNN
void BM_Onednn(benchmark::State& state, const Shape& shape, int batch, int steps) {
  OnednnRnn rnn(shape.cell == Cell::kLstm ? OnednnCell::kLstm : OnednnCell::kGru,
                shape.input, shape.hidden, shape.layers, batch, steps);
  rnn.Run();  // Outside the timing: the first run allocates the scratchpad.
  for (auto _ : state) {
    rnn.Run();
    benchmark::ClobberMemory();
  }
  SetCounters(state, shape, batch, steps);
  state.SetLabel(rnn.implementation());
}
#endif

void BM_ReadWeights(benchmark::State& state, const Shape& shape) {
  std::vector<uint64_t> words(shape.weights() / 2, 1);
  for (auto _ : state) benchmark::DoNotOptimize(ReadAll(words.data(), words.size()));
  state.counters["bytes_per_second"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * words.size() * 8,
      benchmark::Counter::kIsRate);
  state.counters["weight_bytes"] = static_cast<double>(shape.weights() * 4);
}

void BM_FmaPeak(benchmark::State& state) {
  constexpr int64_t kIterations = 1 << 16;
  double flops = 0.0;
  float sink = 0.0f;
  for (auto _ : state) {
    flops += FmaLoop(kIterations, &sink);
    benchmark::DoNotOptimize(sink);
  }
  state.counters["flops_per_second"] = benchmark::Counter(flops, benchmark::Counter::kIsRate);
}

void RegisterAll() {
  for (const Shape& shape : Shapes()) {
    for (int steps : {1, 32}) {
      for (int batch : {1, 8, 64, 256}) {
        const std::string name = absl::StrCat("kernel/", shape.name, "/T", steps, "/B", batch);
        benchmark::RegisterBenchmark((name + "/rnnserve").c_str(), BM_Rnnserve, shape, batch,
                                     steps)
            ->MeasureProcessCPUTime()
            ->Unit(benchmark::kMicrosecond);
#ifdef RNNSERVE_BENCH_ONEDNN
        benchmark::RegisterBenchmark((name + "/onednn").c_str(), BM_Onednn, shape, batch,
                                     steps)
            ->MeasureProcessCPUTime()
            ->Unit(benchmark::kMicrosecond);
#endif
      }
    }
    benchmark::RegisterBenchmark(("roofline/read/" + shape.name).c_str(), BM_ReadWeights,
                                 shape)
        ->MeasureProcessCPUTime()
        ->Unit(benchmark::kMicrosecond);
  }
  benchmark::RegisterBenchmark("roofline/fma", BM_FmaPeak)
      ->MeasureProcessCPUTime()
      ->Unit(benchmark::kMicrosecond);
}

}  // namespace
}  // namespace rnnserve::bench

int main(int argc, char** argv) {
  using namespace rnnserve;
#ifdef RNNSERVE_BENCH_ONEDNN
  bench::LimitOnednnThreads(1);
  benchmark::AddCustomContext("onednn", bench::OnednnDescription());
#else
  benchmark::AddCustomContext("onednn", "not built (CMake found no oneDNN)");
#endif
  benchmark::AddCustomContext("rnnserve_kernel",
                              model::KernelIsaName(model::DefaultKernelIsa()));
  bench::RegisterAll();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
