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
