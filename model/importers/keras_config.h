// The architecture of a saved Keras model (its model_config / config.json
// JSON, ../shared/KERAS_FORMATS.md "model_config dialects") as the layers the
// engine computes: a chain of an optional Embedding, recurrent layers (LSTM,
// GRU, SimpleRNN, each maybe Bidirectional) and an optional Dense head, with
// every option mapped exactly. Dropout is the identity at inference and is
// dropped. Anything the engine cannot compute exactly is refused naming the
// layer and the option.
#ifndef RNNSERVE_MODEL_IMPORTERS_KERAS_CONFIG_H_
#define RNNSERVE_MODEL_IMPORTERS_KERAS_CONFIG_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/engine/activation.h"
#include "model/engine/dense_head.h"
#include "model/engine/gru_cell.h"
#include "model/engine/layer_stack.h"
#include "model/importers/config.h"

namespace rnnserve::model {

// One LSTM, GRU or SimpleRNN layer's options (both directions' for a
// Bidirectional wrapper: Keras copies the forward layer's).
struct KerasRecurrentOptions {
  CellKind cell = CellKind::kLstm;  // kLstm, kGru or kRnn
  int units = 0;
  Activation activation = Activation::Tanh();
  Activation recurrent_activation = Activation::Sigmoid();  // LSTM, GRU
  bool use_bias = true;
  GruReset reset = GruReset::kBeforeProduct;  // GRU: reset_after
  bool go_backwards = false;
  bool return_sequences = false;
};

// A layer that has weights, as the engine will run it.
struct KerasLayer {
  enum class Kind { kEmbedding, kRecurrent, kBidirectional, kDense };
  Kind kind = Kind::kRecurrent;
  std::string name;        // the config's layer name (legacy .h5 weight group)
  std::string class_name;  // "LSTM", "Bidirectional", ...
  // Where Keras 3 stores the layer's variables in model.weights.h5:
  // "layers/<snake_case(class)>[_k]", k counting that class's earlier layers.
  std::string keras3_path;
  KerasRecurrentOptions recurrent;  // kRecurrent, kBidirectional
  int input_dim = 0;                // kEmbedding: vocabulary
  int output_dim = 0;               // kEmbedding: embedding size
  int units = 0;                    // kDense
  HeadActivation dense_activation = HeadActivation::kIdentity;
  bool use_bias = true;  // kDense
  // kDense inside TimeDistributed: Keras 3 keeps the Dense's variables under
  // the wrapper's "layer/".
  bool time_distributed = false;
};

struct KerasModelSpec {
  std::string class_name;             // "Sequential", "Functional", "Model"
  std::vector<KerasLayer> layers;     // in the order data flows through them
  std::optional<int> input_features;  // the input shape's last axis, if given
  SequenceOutput sequence_output = SequenceOutput::kEveryStep;  // the last RNN's
  bool go_backwards = false;  // every recurrent layer's (mixed is refused)
};

// `hard_sigmoid_flavour` is "keras2" (0.2x + 0.5) or "keras3" (x/6 + 0.5):
// the version that saved the file decides. `source` names the JSON in
// messages ("model.h5: model_config").
absl::StatusOr<KerasModelSpec> ParseKerasModelConfig(absl::string_view json_text,
                                                     absl::string_view hard_sigmoid_flavour,
                                                     absl::string_view source);

// "SimpleRNN" -> "simple_rnn", as Keras 3 names saved layers.
std::string KerasSnakeCase(absl::string_view class_name);

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_IMPORTERS_KERAS_CONFIG_H_
