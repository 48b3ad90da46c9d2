// What the cell tests (lstm_cell_test, gru_cell_test, rnn_cell_test) share:
// random gate weights kept in float64 for the reference, the buffers of one
// CellStep for a batch of sessions, and the loop that steps a cell and its
// reference side by side. The references themselves are written out in each
// test from DESIGN.md section 2, in double precision, from the weights as
// given (biases unfolded), never from the cell's code.
#ifndef RNNSERVE_TESTS_MODEL_CELL_HARNESS_H_
#define RNNSERVE_TESTS_MODEL_CELL_HARNESS_H_

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "model/engine/gates.h"
#include "model/engine/tensor.h"
#include "tests/model/test_util.h"

namespace rnnserve::model::testing {

inline double SigmoidRef(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Row-major [rows, cols] of doubles drawn from U[-scale, scale], and the same
// values as float32: the cell gets the floats, the reference their exact
// doubles, so the two see identical weights.
struct RandomBlock {
  int rows = 0, cols = 0;
  std::vector<double> values;
  double at(int r, int c) const { return values[static_cast<size_t>(r) * cols + c]; }
  RowMatrix AsFloat() const {
    RowMatrix m(rows, cols);
    for (int i = 0; i < rows * cols; ++i) m.data()[i] = static_cast<float>(values[i]);
    return m;
  }
};

inline RandomBlock RandomValues(int rows, int cols, double scale, std::mt19937& rng) {
  std::uniform_real_distribution<float> uniform(-static_cast<float>(scale),
                                                static_cast<float>(scale));
  RandomBlock block{rows, cols, std::vector<double>(static_cast<size_t>(rows) * cols)};
  for (double& v : block.values) v = uniform(rng);  // float values, held exactly
  return block;
}

// The bound s of U[-s, s] for a weight with `fan_in` inputs: 0.6 for the
// small layers, shrinking as 1/sqrt(fan_in) (as PyTorch's init does) past
// ~11, so a wide layer does not amplify float rounding step after step
// (stays short of chaos) while its gates still leave their linear range.
inline double WeightScale(int fan_in) {
  return fan_in > 0 ? std::min(0.6, 2.0 / std::sqrt(static_cast<double>(fan_in))) : 0.6;
}

// One layer's weights in the kernel's fused layout: W_x [I, G*H],
// W_r [R, G*H], biases [1, G*H], peephole [1, 3H] or empty.
struct GateWeightsRef {
  int gates, hidden, input, recurrent;
  RandomBlock w_x, w_r, b_x, b_r, peephole;

  GateWeightsRef(int gates, int hidden, int input, int recurrent, std::mt19937& rng,
                 bool with_peephole = false)
      : gates(gates),
        hidden(hidden),
        input(input),
        recurrent(recurrent),
        w_x(RandomValues(input, gates * hidden, WeightScale(input), rng)),
        w_r(RandomValues(recurrent, gates * hidden, WeightScale(recurrent), rng)),
        b_x(RandomValues(1, gates * hidden, 0.4, rng)),
        b_r(RandomValues(1, gates * hidden, 0.4, rng)),
        peephole(with_peephole ? RandomValues(1, 3 * hidden, 0.8, rng) : RandomBlock{}) {}

  GateWeights AsGateWeights() const {
    return GateWeights{
        .gates = gates,
        .hidden_size = hidden,
        .input = w_x.AsFloat(),
        .recurrent = w_r.AsFloat(),
        .input_bias = b_x.AsFloat(),
        .recurrent_bias = b_r.AsFloat(),
        .peephole = peephole.rows == 0 ? RowVector() : RowVector(peephole.AsFloat())};
  }

  // x W_x + b_x + r W_r + b_r for gate column j (0 <= j < G*H).
  double PreActivation(const std::vector<double>& x, const std::vector<double>& r, int j) const {
    double a = b_x.at(0, j) + b_r.at(0, j);
    for (int k = 0; k < input; ++k) a += x[k] * w_x.at(k, j);
    for (int k = 0; k < recurrent; ++k) a += r[k] * w_r.at(k, j);
    return a;
  }
};

// The buffers of one CellStep for `batch` sessions, and the step over them.
// The caller fills projected (x W_x + the cell's input_bias, as the layer
// does), recurrent_input and cell, calls the cell's Step(view()), and reads
// output and cell.
struct CellBuffers {
  CellBuffers(int batch, int width, int recurrent, int hidden)
      : projected(batch, width),
        recurrent_input(batch, recurrent),
        cell(RowMatrix::Zero(batch, hidden)),
        output(batch, hidden),
        scratch(batch, width),
        scratch2(batch, hidden) {}

  CellStep view() {
    return CellStep{
        .projected_input = ConstRowMatrixMap(projected.data(), projected.rows(), projected.cols()),
        .recurrent_input = ConstRowMatrixMap(recurrent_input.data(), recurrent_input.rows(),
                                             recurrent_input.cols()),
        .cell = RowMatrixMap(cell.data(), cell.rows(), cell.cols()),
        .output = RowMatrixMap(output.data(), output.rows(), output.cols()),
        .scratch = RowMatrixMap(scratch.data(), scratch.rows(), scratch.cols()),
        .scratch2 = RowMatrixMap(scratch2.data(), scratch2.rows(), scratch2.cols())};
  }

  RowMatrix projected, recurrent_input, cell, output, scratch, scratch2;
};

// Inputs for `batch` sessions: U[-1.5, 1.5], as float32 values held in doubles.
inline std::vector<std::vector<double>> RandomRows(int batch, int width, std::mt19937& rng) {
  std::vector<std::vector<double>> rows(batch);
  for (auto& row : rows) row = RandomValues(1, width, 1.5, rng).values;
  return rows;
}

// Fills buffers.projected with x W_x + input_bias for each row of `x`, the
// layer's job, from the cell's own (possibly bias-folded) weights: its
// released W_x is `input`, unpacked from the cell.
inline void Project(const GateWeights& weights, const RowMatrix& input,
                    const std::vector<std::vector<double>>& x, CellBuffers& buffers) {
  for (size_t b = 0; b < x.size(); ++b) {
    for (int j = 0; j < weights.width(); ++j) {
      double a = weights.input_bias(j);
      for (int k = 0; k < weights.input_size(); ++k) a += x[b][k] * double{input(k, j)};
      buffers.projected(b, j) = static_cast<float>(a);
    }
  }
}

// One step of one session in double precision, as a test writes it from
// DESIGN.md section 2: from x_t, the fed-back r_{t-1} and the cell state
// c_{t-1} (LSTM; empty for the others), updated in place to c_t, to h_t.
using ReferenceStep = std::function<std::vector<double>(
    const std::vector<double>& x, const std::vector<double>& r, std::vector<double>& c)>;

// What the layer feeds back as r_t, given h_t: h itself (empty function) or,
// e.g., an LSTM projection h W_hr. Its width is the cell's recurrent_size().
using Feedback = std::function<std::vector<double>(const std::vector<double>& h)>;

// Batch sizes every cell is stepped at: one session; 3; 5, past the 4-row
// tiles of the generic and AVX2 kernels; 13, past AVX-512's 12-row single
// tile, so a batch runs as several tiles.
inline constexpr int kCellBatchSizes[] = {1, 3, 5, 13};
inline constexpr int kCellSteps = 4;

// Steps `cell` kCellSteps times from a zero state for each of kCellBatchSizes
// sessions on random inputs (drawn from `seed`), and `reference` for each
// session beside it. Every h_t, and every c_t when the cell has one, must be
// within kOutputTolerance of the reference. Each side feeds back its own h_t
// through `feedback`, so errors accumulate as they would in a layer.
template <typename Cell>
void ExpectStepsMatchReference(const Cell& cell, const ReferenceStep& reference, unsigned seed,
                               const Feedback& feedback = {}) {
  const GateWeights& w = cell.weights();
  const RowMatrix input = Unpack(cell.packed_input());
  const int hidden = cell.hidden_size();
  const int recurrent = w.recurrent_size();
  const auto fed_back = [&](std::vector<double> h) { return feedback ? feedback(h) : h; };
  std::mt19937 rng(seed);
  for (int batch : kCellBatchSizes) {
    SCOPED_TRACE(::testing::Message() << "batch " << batch);
    CellBuffers buffers(batch, w.width(), recurrent, hidden);
    buffers.recurrent_input.setZero();
    std::vector<std::vector<double>> r(batch, std::vector<double>(recurrent, 0.0));
    std::vector<std::vector<double>> c(batch, std::vector<double>(cell.cell_state_size(), 0.0));
    for (int t = 0; t < kCellSteps; ++t) {
      const std::vector<std::vector<double>> x = RandomRows(batch, w.input_size(), rng);
      Project(w, input, x, buffers);
      CellStep step = buffers.view();
      cell.Step(step);
      for (int b = 0; b < batch; ++b) {
        const std::vector<double> h = reference(x[b], r[b], c[b]);
        ASSERT_EQ(h.size(), static_cast<size_t>(hidden));
        std::vector<double> got(hidden);
        for (int j = 0; j < hidden; ++j) {
          got[j] = buffers.output(b, j);
          ASSERT_NEAR(got[j], h[j], kOutputTolerance)
              << "h[" << j << "], step " << t << ", row " << b;
        }
        for (size_t j = 0; j < c[b].size(); ++j) {
          ASSERT_NEAR(buffers.cell(b, j), c[b][j], kOutputTolerance)
              << "c[" << j << "], step " << t << ", row " << b;
        }
        r[b] = fed_back(h);
        const std::vector<double> r_got = fed_back(got);
        ASSERT_EQ(r_got.size(), static_cast<size_t>(recurrent));
        for (int j = 0; j < recurrent; ++j) {
          buffers.recurrent_input(b, j) = static_cast<float>(r_got[j]);
        }
      }
    }
  }
}

}  // namespace rnnserve::model::testing

#endif  // RNNSERVE_TESTS_MODEL_CELL_HARNESS_H_
