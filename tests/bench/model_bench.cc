// Micro-benchmarks of one recurrent step (DESIGN.md section 6): an LSTM and a
// GRU of input 64, hidden 256, 2 layers, stepping B sessions at once.
// build/bin/model_bench; "per_session_step" is seconds per session-step.
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "model/layer_stack.h"
#include "tests/model/random_stack.h"

namespace rnnserve::model {
namespace {

using ::rnnserve::model::testing::RandomMatrix;
using ::rnnserve::model::testing::RandomStack;

template <typename CellT>
void BM_Step(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  const LayerStack stack = RandomStack<CellT>(64, 256, 2);
  std::vector<std::vector<float>> states(batch, std::vector<float>(stack.state_size()));
  std::vector<float*> pointers;
  for (auto& s : states) pointers.push_back(s.data());
  std::mt19937 rng(11);
  const RowMatrix input = RandomMatrix(batch, stack.input_size(), rng);
  RowMatrix output(batch, stack.output_size());
  Workspace workspace;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        stack.Step(pointers, StepInput::Floats(input.data(), batch), output.data(), workspace));
    benchmark::ClobberMemory();
  }
  state.counters["per_session_step"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * batch,
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

BENCHMARK(BM_Step<LstmCell>)->Name("LSTM_64x256x2/batch")->Arg(1)->Arg(8)->Arg(64)->Arg(256);
BENCHMARK(BM_Step<GruCell>)->Name("GRU_64x256x2/batch")->Arg(1)->Arg(8)->Arg(64)->Arg(256);

}  // namespace
}  // namespace rnnserve::model

BENCHMARK_MAIN();
