// config.json of the native model format: the PyTorch constructor arguments
// plus the options no PyTorch constructor has (README "Native model format").
#ifndef RNNSERVE_MODEL_IMPORTERS_CONFIG_H_
#define RNNSERVE_MODEL_IMPORTERS_CONFIG_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/engine/activation.h"
#include "model/engine/dense_head.h"
#include "model/engine/gru_cell.h"
#include "model/engine/step_transform.h"
#include "model/kernels/weight_precision.h"

namespace rnnserve::model {

enum class CellKind { kLstm, kGru, kRnn, kJordan };
enum class TensorNaming { kPytorch, kKeras };
// Which GRU update the weights were trained with. kSwapped is converted to
// kPytorch at load time by negating the z gate's weights and biases.
enum class GruUpdate { kPytorch, kSwapped };

absl::string_view CellKindName(CellKind kind);

struct EmbeddingConfig {
  int num_embeddings = 0;
  int embedding_dim = 0;
};

struct HeadConfig {
  int out_features = 0;
  HeadActivation activation = HeadActivation::kIdentity;
};

struct ModelConfig {
  CellKind cell = CellKind::kLstm;
  int input_size = 0;
  int hidden_size = 0;
  int num_layers = 1;
  bool bias = true;
  bool bidirectional = false;
  int proj_size = 0;
  std::optional<EmbeddingConfig> embedding;
  std::optional<HeadConfig> head;
  TensorNaming naming = TensorNaming::kPytorch;
  // `activation` or its PyTorch spelling `nonlinearity`, on every cell (a
  // dict of nn.RNN arguments reused for nn.LSTM keeps it): the candidate /
  // cell and output activation.
  Activation activation = Activation::Tanh();
  // `gate_activation` or its Keras spelling `recurrent_activation`.
  Activation gate_activation = Activation::Sigmoid();
  GruUpdate gru_update = GruUpdate::kPytorch;
  GruReset gru_reset = GruReset::kAfterProduct;
  float clip = 0.0f;
  bool peephole = false;
  bool input_forget = false;
  float forget_bias = 0.0f;  // TF1 BasicLSTMCell adds it at run time
  bool go_backwards = false;
  // "input_transform" / "output_transform": {"offset": ..., "scale": ...},
  // each a number or a list of one per feature (issue 21).
  std::optional<StepTransform> input_transform;
  std::optional<StepTransform> output_transform;
  // "weights": how the matrices are packed at load (issue 17); the file
  // stays float32. The server's --weights overrides it.
  WeightPrecision weights = WeightPrecision::kFp32;

  int directions() const { return bidirectional ? 2 : 1; }
  int gates() const;
  // Floats per step out of the model: the head's, or the top layer's.
  int output_size() const;
};

// Parses and validates config.json text. INVALID_ARGUMENT names the field and
// what it should be; unknown fields are refused (a typo must not be silently
// ignored); a free-form "metadata" object is allowed.
absl::StatusOr<ModelConfig> ParseModelConfig(absl::string_view json_text);

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_IMPORTERS_CONFIG_H_
