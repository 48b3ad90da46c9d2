// Models with random weights at any size, for benchmarks and the allocation
// test (the fixtures are deliberately tiny; these are the production shapes).
#ifndef RNNSERVE_TESTS_MODEL_RANDOM_STACK_H_
#define RNNSERVE_TESTS_MODEL_RANDOM_STACK_H_

#include <random>
#include <vector>

#include "model/engine/layer_stack.h"

namespace rnnserve::model::testing {

inline RowMatrix RandomMatrix(int rows, int cols, std::mt19937& rng) {
  std::uniform_real_distribution<float> uniform(-0.1f, 0.1f);
  RowMatrix m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = uniform(rng);
  return m;
}

// A stack of `layers` CellT layers, input -> hidden, default options.
template <typename CellT>
LayerStack RandomStack(int input, int hidden, int layers) {
  std::mt19937 rng(7);
  std::vector<LayerLevel> levels;
  for (int k = 0; k < layers; ++k) {
    const int gates = CellT::kGates;
    GateWeights weights{
        .gates = gates,
        .hidden_size = hidden,
        .input = RandomMatrix(k == 0 ? input : hidden, gates * hidden, rng),
        .recurrent = RandomMatrix(hidden, gates * hidden, rng),
        .input_bias = RandomMatrix(1, gates * hidden, rng),
        .recurrent_bias = RandomMatrix(1, gates * hidden, rng),
        .peephole = RowVector(),
    };
    CellT cell = *CellT::Create(std::move(weights), {});
    levels.push_back({*RecurrentLayer::Create(std::move(cell), std::nullopt), std::nullopt});
  }
  return *LayerStack::Create(std::nullopt, std::move(levels), std::nullopt, false);
}

}  // namespace rnnserve::model::testing

#endif  // RNNSERVE_TESTS_MODEL_RANDOM_STACK_H_
