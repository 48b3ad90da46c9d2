// Turns a config and its named tensors into the engine's LayerStack, mapping
// each framework's conventions (DESIGN.md section 3: tensor names, layouts,
// gate orders, split biases, GRU update form, TF1 forget bias) onto the one
// internal layout once, at load time.
#ifndef RNNSERVE_MODEL_IMPORTERS_WEIGHT_CONVERTER_H_
#define RNNSERVE_MODEL_IMPORTERS_WEIGHT_CONVERTER_H_

#include <array>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/engine/gates.h"
#include "model/engine/layer_stack.h"
#include "model/importers/config.h"
#include "model/importers/safetensors_reader.h"

namespace rnnserve::model {

struct ConvertedModel {
  LayerStack stack;
  int64_t parameter_count = 0;  // elements of every tensor the model used
};

// Takes every tensor the config calls for from `tensors`: INVALID_ARGUMENT
// naming a missing or mis-shaped tensor ("rnn.weight_hh_l1 is [96, 32], want
// [128, 32]"), or the tensors left over that the config does not explain.
absl::StatusOr<ConvertedModel> ConvertWeights(const ModelConfig& config,
                                              SafetensorsFile& tensors);

// For gate g of the internal order (LSTM i,f,g,o; GRU r,z,n), the index of the
// same gate in a source's order.
using GateOrder = absl::Span<const int>;
inline constexpr std::array<int, 4> kLstmFromIfgo = {0, 1, 2, 3};  // PyTorch, Keras
inline constexpr std::array<int, 4> kLstmFromIofc = {0, 2, 3, 1};  // ONNX
inline constexpr std::array<int, 3> kGruFromRzn = {0, 1, 2};       // PyTorch
inline constexpr std::array<int, 3> kGruFromZrh = {1, 0, 2};       // ONNX, Keras
inline constexpr std::array<int, 1> kSingleGate = {0};

// [G*H, in] with gate blocks stacked as rows (PyTorch, ONNX) to the internal
// [in, G*H] with gate blocks side by side in the internal order.
RowMatrix FuseGateRows(const RowMatrix& rows, GateOrder order, int hidden);
// [in, G*H] with gate blocks as columns (Keras) to the internal order.
RowMatrix FuseGateColumns(const RowMatrix& columns, GateOrder order, int hidden);
// A [G*H] bias to the internal order.
RowVector FuseGateBias(const RowVector& bias, GateOrder order, int hidden);

// Rewrites h = z * n + (1 - z) * h_prev as h = (1 - z') * n + z' * h_prev:
// z' = 1 - sigmoid(a) = sigmoid(-a), so negate every z weight and bias.
// REQUIRES: the gate activation is complement-symmetric.
void ConvertSwappedGruUpdate(GateWeights& weights);

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_IMPORTERS_WEIGHT_CONVERTER_H_
