// What a LayerStack steps on: a view of the caller's input rows (StepInput),
// and the same view once the stack has checked it (CheckedInput).
#ifndef RNNSERVE_MODEL_ENGINE_STEP_INPUT_H_
#define RNNSERVE_MODEL_ENGINE_STEP_INPUT_H_

#include <cstdint>

#include "glog/logging.h"

namespace rnnserve::model {

class LayerStack;

// A view of `rows` steps of input: rows * input_size() floats row-major, or
// `rows` token ids for models that start with an embedding.
struct StepInput {
  const float* floats = nullptr;
  const int64_t* tokens = nullptr;
  int64_t rows = 0;

  static StepInput Floats(const float* data, int64_t rows) { return {data, nullptr, rows}; }
  static StepInput Tokens(const int64_t* ids, int64_t rows) { return {nullptr, ids, rows}; }
};

// Input rows one LayerStack has checked (LayerStack::Check): the kind it
// takes, 1 to kMaxInputRows rows, every token inside its vocabulary, every
// float finite. Only LayerStack makes one, so holding one means the scan has
// run; the stack's entry points that take it trust it (debug builds scan
// again). A view like StepInput: the rows stay the caller's, unchanged and
// alive while it is used. Copyable; any thread.
class CheckedInput {
 public:
  CheckedInput() = default;  // No rows, checked by no model.

  const StepInput& view() const { return input_; }
  int64_t rows() const { return input_.rows; }
  // The stack that checked these rows; a trusted entry point of another
  // stack refuses them (DCHECK).
  const LayerStack* checked_by() const { return checked_by_; }

  // Rows [first, first + count): part of checked rows is checked.
  // REQUIRES: 0 <= first, 0 < count, first + count <= rows().
  CheckedInput Rows(int64_t first, int64_t count) const {
    DCHECK(first >= 0 && count > 0 && first + count <= input_.rows);
    StepInput part = input_;
    part.rows = count;
    if (part.floats != nullptr) part.floats += first * width_;
    if (part.tokens != nullptr) part.tokens += first;
    return CheckedInput(part, checked_by_, width_);
  }

 private:
  friend class LayerStack;
  CheckedInput(const StepInput& input, const LayerStack* checked_by, int64_t width)
      : input_(input), checked_by_(checked_by), width_(width) {}

  StepInput input_;
  const LayerStack* checked_by_ = nullptr;
  int64_t width_ = 0;  // floats per row (0 for tokens)
};

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_ENGINE_STEP_INPUT_H_
