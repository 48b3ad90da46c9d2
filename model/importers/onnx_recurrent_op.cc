#include "model/importers/onnx_recurrent_op.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/importers/weight_converter.h"
#include "util/status_macros.h"

namespace rnnserve::model {
namespace {

struct OpKind {
  std::string cell;
  int gates;
  std::vector<std::string> default_activations;  // per direction
  GateOrder order;
};

OpKind KindOf(const onnx::NodeProto& node) {
  if (node.op_type() == "LSTM") return {"lstm", 4, {"Sigmoid", "Tanh", "Tanh"}, kLstmFromIofc};
  if (node.op_type() == "GRU") return {"gru", 3, {"Sigmoid", "Tanh"}, kGruFromZrh};
  return {"rnn", 1, {"Tanh"}, kSingleGate};
}

// Parses ONNX activation names; alpha and beta are taken from the lists in
// order, only by the functions that have that parameter (as onnxruntime
// does), with the operators' defaults when a list runs out.
class ActivationParser {
 public:
  ActivationParser(std::vector<float> alphas, std::vector<float> betas)
      : alphas_(std::move(alphas)), betas_(std::move(betas)) {}

  absl::StatusOr<Activation> Parse(const std::string& name) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (lower == "sigmoid") return Activation::Sigmoid();
    if (lower == "tanh") return Activation::Tanh();
    if (lower == "relu") return Activation::Relu();
    if (lower == "softsign") return Activation{ActivationKind::kSoftsign};
    if (lower == "softplus") return Activation{ActivationKind::kSoftplus};
    if (lower == "affine") return Activation{ActivationKind::kAffine, Alpha(1.0f), Beta(0.0f)};
    if (lower == "leakyrelu") return Activation{ActivationKind::kLeakyRelu, Alpha(0.01f)};
    if (lower == "thresholdedrelu") {
      return Activation{ActivationKind::kThresholdedRelu, Alpha(1.0f)};
    }
    if (lower == "scaledtanh") {
      const float alpha = Alpha(1.0f);
      return Activation{ActivationKind::kScaledTanh, alpha, Beta(1.0f)};
    }
    if (lower == "hardsigmoid") {
      const float alpha = Alpha(0.2f);
      return Activation{ActivationKind::kHardSigmoid, alpha, Beta(0.5f)};
    }
    if (lower == "elu") return Activation{ActivationKind::kElu, Alpha(1.0f)};
    return absl::InvalidArgumentError(absl::StrCat("activation '", name, "' is not supported"));
  }

 private:
  float Alpha(float fallback) { return next_alpha_ < alphas_.size() ? alphas_[next_alpha_++] : fallback; }
  float Beta(float fallback) { return next_beta_ < betas_.size() ? betas_[next_beta_++] : fallback; }

  std::vector<float> alphas_, betas_;
  size_t next_alpha_ = 0, next_beta_ = 0;
};

absl::Status CheckShape(const OnnxConstant& tensor, const char* name,
                        const std::vector<int64_t>& want) {
  if (tensor.shape == want && tensor.is_float) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(name, " is ", ShapeToString(tensor.shape),
                                                 tensor.is_float ? "" : " integers",
                                                 ", want float ", ShapeToString(want)));
}

// Direction d of a [D, ...] tensor as a [rows, cols] matrix.
RowMatrix Slab(const OnnxConstant& t, int d, int64_t rows, int64_t cols) {
  const int64_t per_direction = t.size() / t.shape[0];
  return ConstRowMatrixMap(t.floats.data() + d * per_direction, rows, cols);
}

// The [r][c] starting state of direction d from initial_h / initial_c, which
// are [D, 1, H] (layout 0) or [1, D, H] (layout 1): the same memory order.
std::vector<float> InitialState(const RecurrentOpInputs& in, int d, int h, bool lstm) {
  if (in.initial_h == nullptr && in.initial_c == nullptr) return {};
  std::vector<float> state(lstm ? 2 * h : h, 0.0f);
  if (in.initial_h != nullptr) {
    std::copy_n(in.initial_h->floats.data() + d * h, h, state.data());
  }
  if (lstm && in.initial_c != nullptr) {
    std::copy_n(in.initial_c->floats.data() + d * h, h, state.data() + h);
  }
  return state;
}

struct NodeOptions {
  OpKind kind;
  int directions = 1;
  bool reverse = false;
  int hidden = 0;
  int input = 0;
  int layout = 0;
  float clip = 0.0f;
  bool input_forget = false;
  GruReset reset = GruReset::kBeforeProduct;
  std::vector<Activation> activations;  // per-direction count * directions
};

absl::StatusOr<NodeOptions> ReadOptions(const onnx::NodeProto& node,
                                        const RecurrentOpInputs& in) {
  const NodeAttributes attributes(node);
  NodeOptions o{.kind = KindOf(node)};
  const std::string direction = attributes.String("direction", "forward");
  if (direction != "forward" && direction != "reverse" && direction != "bidirectional") {
    return absl::InvalidArgumentError(absl::StrCat("direction '", direction,
                                                   "', want forward, reverse or bidirectional"));
  }
  o.directions = direction == "bidirectional" ? 2 : 1;
  o.reverse = direction == "reverse";
  if (in.w->shape.size() != 3 || in.r->shape.size() != 3) {
    return absl::InvalidArgumentError(absl::StrCat("W is ", ShapeToString(in.w->shape), " and R is ",
                                                   ShapeToString(in.r->shape), ", want 3-D"));
  }
  const int64_t hidden = attributes.Int("hidden_size", in.r->shape[2]);
  if (hidden <= 0 || hidden > (1 << 24)) {
    return absl::InvalidArgumentError(absl::StrCat("hidden_size ", hidden, " is out of range"));
  }
  o.hidden = static_cast<int>(hidden);
  o.input = static_cast<int>(in.w->shape[2]);
  o.layout = static_cast<int>(attributes.Int("layout", 0));
  o.clip = attributes.Has("clip") ? attributes.Float("clip", 0.0f) : 0.0f;
  o.input_forget = attributes.Int("input_forget", 0) != 0;
  o.reset = attributes.Int("linear_before_reset", 0) != 0 ? GruReset::kAfterProduct
                                                          : GruReset::kBeforeProduct;
  if (o.hidden <= 0 || o.input <= 0 || (o.layout != 0 && o.layout != 1) || o.clip < 0) {
    return absl::InvalidArgumentError(absl::StrCat("hidden_size ", o.hidden, ", input size ",
                                                   o.input, ", layout ", o.layout, ", clip ",
                                                   o.clip, ": want positive sizes, layout 0 "
                                                   "or 1, clip >= 0"));
  }
  std::vector<std::string> names = attributes.Strings("activations");
  const size_t per_direction = o.kind.default_activations.size();
  if (names.empty()) {
    for (int d = 0; d < o.directions; ++d) {
      names.insert(names.end(), o.kind.default_activations.begin(),
                   o.kind.default_activations.end());
    }
  }
  if (names.size() != per_direction * o.directions) {
    return absl::InvalidArgumentError(absl::StrCat(
        "activations lists ", names.size(), " functions, want ", per_direction,
        " per direction (", absl::StrJoin(o.kind.default_activations, ", "), ")"));
  }
  ActivationParser parser(attributes.Floats("activation_alpha"),
                          attributes.Floats("activation_beta"));
  for (const std::string& name : names) {
    RNN_ASSIGN_OR_RETURN(Activation a, parser.Parse(name));
    o.activations.push_back(a);
  }
  return o;
}

absl::Status CheckTensors(const NodeOptions& o, const RecurrentOpInputs& in) {
  const int64_t d = o.directions, width = o.kind.gates * int64_t{o.hidden}, h = o.hidden;
  RNN_RETURN_IF_ERROR(CheckShape(*in.w, "W", {d, width, o.input}));
  RNN_RETURN_IF_ERROR(CheckShape(*in.r, "R", {d, width, h}));
  if (in.b != nullptr) RNN_RETURN_IF_ERROR(CheckShape(*in.b, "B", {d, 2 * width}));
  if (in.p != nullptr) RNN_RETURN_IF_ERROR(CheckShape(*in.p, "P", {d, 3 * h}));
  const std::vector<int64_t> state_shape =
      o.layout == 0 ? std::vector<int64_t>{d, 1, h} : std::vector<int64_t>{1, d, h};
  if (in.initial_h != nullptr) RNN_RETURN_IF_ERROR(CheckShape(*in.initial_h, "initial_h", state_shape));
  if (in.initial_c != nullptr) RNN_RETURN_IF_ERROR(CheckShape(*in.initial_c, "initial_c", state_shape));
  return absl::OkStatus();
}

absl::StatusOr<RecurrentLayer> MakeDirection(const NodeOptions& o, const RecurrentOpInputs& in,
                                             int d) {
  const int h = o.hidden;
  const int width = o.kind.gates * h;
  GateWeights w;
  w.gates = o.kind.gates;
  w.hidden_size = h;
  w.input = FuseGateRows(Slab(*in.w, d, width, o.input), o.kind.order, h);
  w.recurrent = FuseGateRows(Slab(*in.r, d, width, h), o.kind.order, h);
  w.input_bias = w.recurrent_bias = RowVector::Zero(width);
  if (in.b != nullptr) {
    const RowMatrix b = Slab(*in.b, d, 1, 2 * width);
    w.input_bias = FuseGateBias(b.leftCols(width), o.kind.order, h);
    w.recurrent_bias = FuseGateBias(b.rightCols(width), o.kind.order, h);
  }
  const size_t per_direction = o.kind.default_activations.size();
  const Activation* f = &o.activations[d * per_direction];
  if (o.kind.cell == "lstm") {
    if (in.p != nullptr) {
      const RowMatrix p = Slab(*in.p, d, 1, 3 * h);  // i, o, f
      w.peephole.resize(3 * h);
      w.peephole << p.middleCols(0, h), p.middleCols(2 * h, h), p.middleCols(h, h);
    }
    RNN_ASSIGN_OR_RETURN(LstmCell cell, LstmCell::Create(std::move(w), {.gate = f[0],
                                                                        .cell = f[1],
                                                                        .output = f[2],
                                                                        .clip = o.clip,
                                                                        .input_forget = o.input_forget}));
    return RecurrentLayer::Create(std::move(cell), std::nullopt);
  }
  if (o.kind.cell == "gru") {
    RNN_ASSIGN_OR_RETURN(GruCell cell, GruCell::Create(std::move(w), {.gate = f[0],
                                                                      .candidate = f[1],
                                                                      .clip = o.clip,
                                                                      .reset = o.reset}));
    return RecurrentLayer::Create(std::move(cell), std::nullopt);
  }
  RNN_ASSIGN_OR_RETURN(RnnCell cell,
                       RnnCell::Create(std::move(w), {.activation = f[0], .clip = o.clip}));
  return RecurrentLayer::Create(std::move(cell), std::nullopt);
}

}  // namespace

absl::StatusOr<RecurrentOp> ConvertRecurrentNode(const onnx::NodeProto& node,
                                                 const RecurrentOpInputs& in) {
  if (in.w == nullptr || in.r == nullptr) {
    return absl::InvalidArgumentError("W and R must be initializers (missing initializer?)");
  }
  if (in.p != nullptr && node.op_type() != "LSTM") {
    return absl::InvalidArgumentError("only LSTM has peepholes (input P)");
  }
  RNN_ASSIGN_OR_RETURN(const NodeOptions o, ReadOptions(node, in));
  RNN_RETURN_IF_ERROR(CheckTensors(o, in));
  const bool lstm = o.kind.cell == "lstm";
  RNN_ASSIGN_OR_RETURN(RecurrentLayer forward, MakeDirection(o, in, 0));
  RecurrentOp op{.level = LayerLevel{.forward = std::move(forward)},
                 .cell = o.kind.cell,
                 .directions = o.directions,
                 .hidden_size = o.hidden,
                 .input_size = o.input,
                 .layout = o.layout};
  op.level.reversed = o.reverse;
  op.level.forward_initial_state = InitialState(in, 0, o.hidden, lstm);
  if (o.directions == 2) {
    RNN_ASSIGN_OR_RETURN(op.level.backward, MakeDirection(o, in, 1));
    op.level.backward_initial_state = InitialState(in, 1, o.hidden, lstm);
  }
  for (const OnnxConstant* t : {in.w, in.r, in.b, in.p, in.initial_h, in.initial_c}) {
    if (t != nullptr) op.parameter_count += t->size();
  }
  return op;
}

bool IsRecurrentOp(const onnx::NodeProto& node) {
  return (node.domain().empty() || node.domain() == "ai.onnx") &&
         (node.op_type() == "LSTM" || node.op_type() == "GRU" || node.op_type() == "RNN");
}

}  // namespace rnnserve::model
