#include "model/engine/gates.h"

#include "absl/strings/str_cat.h"

namespace rnnserve::model {
namespace {

absl::Status CheckWidth(const char* what, int64_t cols, int want) {
  if (cols == want) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, " has ", cols, " columns, want gates * hidden = ", want));
}

}  // namespace

void GateWeights::ReleaseMatrices() {
  released_input_size = input_size();
  released_recurrent_size = recurrent_size();
  input = RowMatrix();
  recurrent = RowMatrix();
}

RowMatrix Unpack(const PackedMatrix& packed) {
  RowMatrix w(packed.rows(), packed.cols());
  for (int64_t r = 0; r < packed.rows(); ++r) {
    for (int64_t c = 0; c < packed.cols(); ++c) w(r, c) = packed.Weight(r, c);
  }
  return w;
}

GateWeights WithMatrices(GateWeights weights, const PackedMatrix& input,
                         std::initializer_list<const PackedMatrix*> recurrent) {
  if (!weights.released()) return weights;
  weights.input = Unpack(input);
  weights.recurrent.resize(weights.recurrent_size(), weights.width());
  int64_t col = 0;
  for (const PackedMatrix* block : recurrent) {
    if (block->cols() == 0) continue;
    weights.recurrent.middleCols(col, block->cols()) = Unpack(*block);
    col += block->cols();
  }
  weights.released_input_size = weights.released_recurrent_size = -1;
  return weights;
}

absl::Status GateWeights::Validate() const {
  if (gates <= 0 || hidden_size <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "gates (", gates, ") and hidden_size (", hidden_size, ") must be positive"));
  }
  const int want = width();
  for (auto [what, cols] : {std::pair{"input weight", input.cols()},
                            std::pair{"recurrent weight", recurrent.cols()},
                            std::pair{"input bias", input_bias.cols()},
                            std::pair{"recurrent bias", recurrent_bias.cols()}}) {
    absl::Status status = CheckWidth(what, cols, want);
    if (!status.ok()) return status;
  }
  if (peephole.size() != 0 && peephole.size() != 3 * hidden_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "peephole has ", peephole.size(), " values, want 3 * hidden = ", 3 * hidden_size));
  }
  return absl::OkStatus();
}

}  // namespace rnnserve::model
