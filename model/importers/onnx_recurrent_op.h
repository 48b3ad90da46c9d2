// One ONNX LSTM, GRU or RNN node as a level of the engine's stack, following
// the operator specification: direction, activations with their alpha / beta,
// clip, hidden_size, input_forget, layout, linear_before_reset; inputs W, R,
// B, P, initial_h, initial_c. Gate orders and the split bias are converted
// once here (ONNX LSTM i,o,f,c and P i,o,f; GRU z,r,h).
#ifndef RNNSERVE_MODEL_IMPORTERS_ONNX_RECURRENT_OP_H_
#define RNNSERVE_MODEL_IMPORTERS_ONNX_RECURRENT_OP_H_

#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "model/engine/layer_stack.h"
#include "model/importers/onnx_reader.h"

namespace rnnserve::model {

// The node's inputs beyond X, resolved by the graph importer.
struct RecurrentOpInputs {
  const OnnxConstant* w = nullptr;  // required
  const OnnxConstant* r = nullptr;  // required
  const OnnxConstant* b = nullptr;  // optional
  const OnnxConstant* p = nullptr;  // optional, LSTM only
  // Absent or known to be zeros: nullptr.
  const OnnxConstant* initial_h = nullptr;
  const OnnxConstant* initial_c = nullptr;
};

struct RecurrentOp {
  LayerLevel level;
  std::string cell;  // "lstm", "gru", "rnn"
  int directions = 1;
  int hidden_size = 0;
  int input_size = 0;
  int layout = 0;  // 0: X [T, B, I]; 1: X [B, T, I]
  int64_t parameter_count = 0;
};

// INVALID_ARGUMENT for unsupported attributes, activations,
// or tensors whose shapes disagree with each other or hidden_size.
absl::StatusOr<RecurrentOp> ConvertRecurrentNode(const onnx::NodeProto& node,
                                                 const RecurrentOpInputs& inputs);

bool IsRecurrentOp(const onnx::NodeProto& node);

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_IMPORTERS_ONNX_RECURRENT_OP_H_
