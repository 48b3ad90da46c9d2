// Micro-benchmarks of one recurrent step (DESIGN.md section 6): an LSTM and a
// GRU of input 64, hidden 256, 2 layers, stepping B sessions at once.
// build/bin/model_bench; "per_session_step" is seconds per session-step.
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "model/layer_stack.h"

namespace rnnserve::model {
namespace {

RowMatrix RandomMatrix(int rows, int cols, std::mt19937& rng) {
  std::uniform_real_distribution<float> uniform(-0.1f, 0.1f);
  RowMatrix m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = uniform(rng);
  return m;
}

GateWeights RandomGates(int gates, int input, int hidden, std::mt19937& rng) {
  return GateWeights{
      .gates = gates,
      .hidden_size = hidden,
      .input = RandomMatrix(input, gates * hidden, rng),
      .recurrent = RandomMatrix(hidden, gates * hidden, rng),
      .input_bias = RandomMatrix(1, gates * hidden, rng),
      .recurrent_bias = RandomMatrix(1, gates * hidden, rng),
      .peephole = RowVector(),
  };
}

template <typename CellT>
LayerStack RandomStack(int input, int hidden, int layers) {
  std::mt19937 rng(7);
  std::vector<LayerLevel> levels;
  for (int k = 0; k < layers; ++k) {
    CellT cell = *CellT::Create(
        RandomGates(CellT::kGates, k == 0 ? input : hidden, hidden, rng), {});
    levels.push_back({*RecurrentLayer::Create(std::move(cell), std::nullopt), std::nullopt});
  }
  return *LayerStack::Create(std::nullopt, std::move(levels), std::nullopt, false);
}

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
