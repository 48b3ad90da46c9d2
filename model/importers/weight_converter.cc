#include "model/importers/weight_converter.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "util/status_macros.h"

namespace rnnserve::model {
namespace {

// Takes tensors by name, checks their shapes, counts their elements.
class TensorTaker {
 public:
  explicit TensorTaker(SafetensorsFile& file) : file_(file) {}

  absl::StatusOr<RowMatrix> Matrix(const std::string& name, int64_t rows, int64_t cols) {
    RNN_ASSIGN_OR_RETURN(Tensor tensor, TakeShaped(name, {rows, cols}));
    return RowMatrix(ConstRowMatrixMap(tensor.values.data(), rows, cols));
  }

  absl::StatusOr<RowVector> Vector(const std::string& name, int64_t size) {
    RNN_ASSIGN_OR_RETURN(Tensor tensor, TakeShaped(name, {size}));
    return RowVector(Eigen::Map<const RowVector>(tensor.values.data(), size));
  }

  bool Has(const std::string& name) const { return file_.tensors().contains(name); }
  int64_t taken_elements() const { return taken_elements_; }

  absl::Status CheckNothingLeft() const {
    const std::vector<std::string> left = file_.RemainingNames();
    if (left.empty()) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat("model.safetensors has tensors the config does not use: ",
                     absl::StrJoin(left, ", ")));
  }

 private:
  absl::StatusOr<Tensor> TakeShaped(const std::string& name,
                                    const std::vector<int64_t>& shape) {
    absl::StatusOr<Tensor> tensor = file_.Take(name);
    if (!tensor.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model.safetensors has no tensor ", name, ", want one of shape ",
          ShapeToString(shape)));
    }
    if (tensor->shape != shape) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, " is ", tensor->ShapeString(), ", want ", ShapeToString(shape)));
    }
    taken_elements_ += tensor->num_elements();
    return tensor;
  }

  SafetensorsFile& file_;
  int64_t taken_elements_ = 0;
};

GateOrder SourceGateOrder(const ModelConfig& config) {
  switch (config.cell) {
    case CellKind::kLstm:
      return kLstmFromIfgo;
    case CellKind::kGru:
      return config.naming == TensorNaming::kKeras ? GateOrder(kGruFromZrh)
                                                   : GateOrder(kGruFromRzn);
    default:
      return kSingleGate;
  }
}

// What one layer in one direction reads and feeds back.
struct LayerShape {
  int level = 0;
  bool reverse = false;
  int input_size = 0;
  int recurrent_size = 0;
};

absl::StatusOr<GateWeights> ImportPytorchGates(const ModelConfig& config,
                                               const LayerShape& shape,
                                               TensorTaker& taker) {
  const std::string suffix = absl::StrCat("_l", shape.level, shape.reverse ? "_reverse" : "");
  const int h = config.hidden_size;
  const int width = config.gates() * h;
  const GateOrder order = SourceGateOrder(config);
  GateWeights w;
  w.gates = config.gates();
  w.hidden_size = h;
  RNN_ASSIGN_OR_RETURN(RowMatrix w_ih,
                       taker.Matrix("rnn.weight_ih" + suffix, width, shape.input_size));
  RNN_ASSIGN_OR_RETURN(RowMatrix w_hh,
                       taker.Matrix("rnn.weight_hh" + suffix, width, shape.recurrent_size));
  w.input = FuseGateRows(w_ih, order, h);
  w.recurrent = FuseGateRows(w_hh, order, h);
  if (config.bias) {
    RNN_ASSIGN_OR_RETURN(RowVector b_ih, taker.Vector("rnn.bias_ih" + suffix, width));
    RNN_ASSIGN_OR_RETURN(RowVector b_hh, taker.Vector("rnn.bias_hh" + suffix, width));
    w.input_bias = FuseGateBias(b_ih, order, h);
    w.recurrent_bias = FuseGateBias(b_hh, order, h);
  } else {
    w.input_bias = w.recurrent_bias = RowVector::Zero(width);
  }
  if (config.peephole) {
    RNN_ASSIGN_OR_RETURN(w.peephole, taker.Vector("rnn.weight_ph" + suffix, 3 * h));
  }
  return w;
}

absl::StatusOr<GateWeights> ImportKerasGates(const ModelConfig& config,
                                             const LayerShape& shape,
                                             TensorTaker& taker) {
  std::string prefix = absl::StrCat("rnn.", shape.level, ".");
  if (config.bidirectional) prefix += shape.reverse ? "backward." : "forward.";
  const int h = config.hidden_size;
  const int width = config.gates() * h;
  const GateOrder order = SourceGateOrder(config);
  GateWeights w;
  w.gates = config.gates();
  w.hidden_size = h;
  RNN_ASSIGN_OR_RETURN(RowMatrix kernel,
                       taker.Matrix(prefix + "kernel", shape.input_size, width));
  RNN_ASSIGN_OR_RETURN(RowMatrix recurrent_kernel,
                       taker.Matrix(prefix + "recurrent_kernel", shape.recurrent_size, width));
  w.input = FuseGateColumns(kernel, order, h);
  w.recurrent = FuseGateColumns(recurrent_kernel, order, h);
  w.input_bias = w.recurrent_bias = RowVector::Zero(width);
  if (!config.bias) return w;
  if (config.cell == CellKind::kGru && config.gru_reset == GruReset::kAfterProduct) {
    // Keras reset_after=True keeps [input bias; recurrent bias] as 2 rows.
    RNN_ASSIGN_OR_RETURN(RowMatrix bias, taker.Matrix(prefix + "bias", 2, width));
    w.input_bias = FuseGateBias(bias.row(0), order, h);
    w.recurrent_bias = FuseGateBias(bias.row(1), order, h);
  } else {
    RNN_ASSIGN_OR_RETURN(RowVector bias, taker.Vector(prefix + "bias", width));
    w.input_bias = FuseGateBias(bias, order, h);
  }
  return w;
}

absl::StatusOr<RecurrentLayer::Cell> MakeCell(const ModelConfig& config, GateWeights w) {
  switch (config.cell) {
    case CellKind::kLstm: {
      // TF1 BasicLSTMCell adds forget_bias at run time; it is not in the file.
      w.input_bias.segment(config.hidden_size, config.hidden_size).array() +=
          config.forget_bias;
      RNN_ASSIGN_OR_RETURN(LstmCell cell,
                           LstmCell::Create(std::move(w), {.gate = config.gate_activation,
                                                           .cell = config.activation,
                                                           .output = config.activation,
                                                           .clip = config.clip,
                                                           .input_forget = config.input_forget}));
      return cell;
    }
    case CellKind::kGru: {
      if (config.gru_update == GruUpdate::kSwapped) ConvertSwappedGruUpdate(w);
      RNN_ASSIGN_OR_RETURN(GruCell cell,
                           GruCell::Create(std::move(w), {.gate = config.gate_activation,
                                                          .candidate = config.activation,
                                                          .clip = config.clip,
                                                          .reset = config.gru_reset}));
      return cell;
    }
    case CellKind::kRnn:
    case CellKind::kJordan: {
      RNN_ASSIGN_OR_RETURN(RnnCell cell, RnnCell::Create(std::move(w),
                                                         {.activation = config.activation,
                                                          .clip = config.clip}));
      return cell;
    }
  }
  return absl::InternalError("unknown cell kind");
}

absl::StatusOr<std::optional<DenseHead>> ImportHead(const ModelConfig& config,
                                                    int input_size, TensorTaker& taker) {
  if (!config.head.has_value()) return std::optional<DenseHead>();
  const int out = config.head->out_features;
  RowMatrix weight;
  RowVector bias;
  if (config.naming == TensorNaming::kKeras) {
    RNN_ASSIGN_OR_RETURN(weight, taker.Matrix("head.kernel", input_size, out));
  } else {
    RNN_ASSIGN_OR_RETURN(RowMatrix torch_weight, taker.Matrix("head.weight", out, input_size));
    weight = torch_weight.transpose();
  }
  // nn.Linear(bias=False) and Dense(use_bias=False) have no bias tensor.
  if (taker.Has("head.bias")) {
    RNN_ASSIGN_OR_RETURN(bias, taker.Vector("head.bias", out));
  }
  RNN_ASSIGN_OR_RETURN(DenseHead head, DenseHead::Create(std::move(weight), std::move(bias),
                                                         config.head->activation));
  return std::optional<DenseHead>(std::move(head));
}

absl::StatusOr<RowMatrix> ImportEmbedding(const ModelConfig& config, TensorTaker& taker) {
  const std::string name = config.naming == TensorNaming::kKeras ? "embedding.embeddings"
                                                                  : "embedding.weight";
  return taker.Matrix(name, config.embedding->num_embeddings, config.embedding->embedding_dim);
}

absl::StatusOr<RecurrentLayer> ImportLayer(const ModelConfig& config,
                                           const LayerShape& shape,
                                           std::optional<DenseHead> feedback,
                                           TensorTaker& taker) {
  absl::StatusOr<GateWeights> gates = config.naming == TensorNaming::kKeras
                                          ? ImportKerasGates(config, shape, taker)
                                          : ImportPytorchGates(config, shape, taker);
  RNN_RETURN_IF_ERROR(gates.status());
  if (config.proj_size > 0) {
    const std::string name = absl::StrCat("rnn.weight_hr_l", shape.level,
                                          shape.reverse ? "_reverse" : "");
    RNN_ASSIGN_OR_RETURN(RowMatrix w_hr,
                         taker.Matrix(name, config.proj_size, config.hidden_size));
    RNN_ASSIGN_OR_RETURN(feedback, DenseHead::Create(w_hr.transpose(), RowVector(),
                                                     HeadActivation::kIdentity));
  }
  RNN_ASSIGN_OR_RETURN(RecurrentLayer::Cell cell, MakeCell(config, *std::move(gates)));
  absl::StatusOr<RecurrentLayer> layer =
      RecurrentLayer::Create(std::move(cell), std::move(feedback));
  if (!layer.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("layer ", shape.level, ": ", layer.status().message()));
  }
  return layer;
}

}  // namespace

RowMatrix FuseGateRows(const RowMatrix& rows, GateOrder order, int hidden) {
  RowMatrix fused(rows.cols(), rows.rows());
  for (size_t g = 0; g < order.size(); ++g) {
    fused.middleCols(g * hidden, hidden) = rows.middleRows(order[g] * hidden, hidden).transpose();
  }
  return fused;
}

RowMatrix FuseGateColumns(const RowMatrix& columns, GateOrder order, int hidden) {
  RowMatrix fused(columns.rows(), columns.cols());
  for (size_t g = 0; g < order.size(); ++g) {
    fused.middleCols(g * hidden, hidden) = columns.middleCols(order[g] * hidden, hidden);
  }
  return fused;
}

RowVector FuseGateBias(const RowVector& bias, GateOrder order, int hidden) {
  RowVector fused(bias.size());
  for (size_t g = 0; g < order.size(); ++g) {
    fused.segment(g * hidden, hidden) = bias.segment(order[g] * hidden, hidden);
  }
  return fused;
}

void ConvertSwappedGruUpdate(GateWeights& w) {
  const int h = w.hidden_size;  // z is internal gate 1 of r, z, n.
  w.input.middleCols(h, h) *= -1.0f;
  w.recurrent.middleCols(h, h) *= -1.0f;
  w.input_bias.segment(h, h) *= -1.0f;
  w.recurrent_bias.segment(h, h) *= -1.0f;
}

absl::StatusOr<ConvertedModel> ConvertWeights(const ModelConfig& config,
                                              SafetensorsFile& tensors) {
  TensorTaker taker(tensors);
  std::optional<RowMatrix> embedding;
  if (config.embedding.has_value()) {
    RNN_ASSIGN_OR_RETURN(embedding, ImportEmbedding(config, taker));
  }
  const int layer_output = config.proj_size > 0 ? config.proj_size : config.hidden_size;
  const int top_size = layer_output * config.directions();
  std::optional<DenseHead> head;
  std::optional<DenseHead> jordan_feedback;
  if (config.cell == CellKind::kJordan) {
    // A Jordan layer feeds its head output back; the head is part of the layer.
    RNN_ASSIGN_OR_RETURN(jordan_feedback, ImportHead(config, config.hidden_size, taker));
  } else {
    RNN_ASSIGN_OR_RETURN(head, ImportHead(config, top_size, taker));
  }
  std::vector<LayerLevel> levels;
  for (int k = 0; k < config.num_layers; ++k) {
    LayerShape shape{
        .level = k,
        .input_size = k == 0 ? config.input_size : top_size,
        .recurrent_size = jordan_feedback.has_value() ? jordan_feedback->output_size()
                                                      : layer_output,
    };
    RNN_ASSIGN_OR_RETURN(RecurrentLayer forward,
                         ImportLayer(config, shape, jordan_feedback, taker));
    std::optional<RecurrentLayer> backward;
    if (config.bidirectional) {
      shape.reverse = true;
      RNN_ASSIGN_OR_RETURN(backward, ImportLayer(config, shape, std::nullopt, taker));
    }
    levels.push_back({std::move(forward), std::move(backward)});
  }
  RNN_RETURN_IF_ERROR(taker.CheckNothingLeft());
  RNN_ASSIGN_OR_RETURN(LayerStack stack,
                       LayerStack::Create(std::move(embedding), std::move(levels), std::move(head),
                                          config.go_backwards, SequenceOutput::kEveryStep,
                                          {config.input_transform, config.output_transform}));
  return ConvertedModel{std::move(stack), taker.taken_elements()};
}

}  // namespace rnnserve::model
