#include "model/onnx_graph.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "model/onnx_axes.h"
#include "model/onnx_elementwise.h"
#include "model/onnx_node_checks.h"
#include "model/onnx_reader.h"
#include "model/onnx_recurrent_op.h"
#include "model/status_macros.h"

namespace rnnserve::model {
namespace {

// The dense head as applied to one data value so far. It travels with the
// value, so a dead branch of the graph cannot change what the output means.
struct HeadParts {
  RowMatrix weight;  // [in, out]
  RowVector bias;    // [out] or empty
  bool biased = false;
  bool activated = false;
  HeadActivation activation = HeadActivation::kIdentity;
};

// What one tensor of the graph is to the importer.
struct Value {
  enum class Kind {
    kData,       // on the path from the input: its axes are tracked
    kConstant,   // an initializer or Constant output (in the constant table)
    kShapeInfo,  // computed from shapes or constants: values not known here
    kZeros,      // ConstantOfShape(0) and views of it: an all-zero tensor
    kUnusable,   // a Y_c output or similar, fine unless something uses it
  };
  Kind kind = Kind::kShapeInfo;
  Axes axes;                // kData
  int depth = 0;            // kData: recurrent levels applied so far
  bool final_state = false; // kData: derived from Y_h
  std::shared_ptr<const HeadParts> head;  // kData: the head applied, if any
  std::shared_ptr<const AffineFold> transform;  // kData: elementwise ops so far
  std::string why_unusable; // kUnusable
};

// The ops whose only job is shapes; on shape data they stay shape data.
const absl::flat_hash_set<std::string>& ShapeOps() {
  static const auto* ops = new absl::flat_hash_set<std::string>{
      "Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Cast", "Reshape",
      "Add", "Sub", "Mul", "Div", "Equal", "Where", "Range", "Size", "Expand",
      "Transpose", "Identity"};
  return *ops;
}

// Walks the nodes in order (ONNX requires a topological order), keeping a
// Value per tensor, and assembles the engine's model from what it proves.
class GraphImporter {
 public:
  GraphImporter(const onnx::GraphProto& graph, int64_t opset,
                const absl::flat_hash_map<std::string, OnnxConstant>& constants)
      : graph_(graph), opset_(opset), constants_(constants) {}

  absl::StatusOr<OnnxImport> Import(const Axes& input_axes, bool tokens);

 private:
  absl::Status Visit(const onnx::NodeProto& node);
  absl::Status VisitRecurrent(const onnx::NodeProto& node);
  absl::Status VisitGather(const onnx::NodeProto& node);
  absl::Status VisitWithoutData(const onnx::NodeProto& node);
  absl::Status VisitGlue(const onnx::NodeProto& node, const Value& data);
  absl::Status VisitDense(const onnx::NodeProto& node, const Value& data);
  absl::Status VisitBias(const onnx::NodeProto& node, const Value& data);
  absl::Status VisitHeadActivation(const onnx::NodeProto& node, const Value& data);
  absl::Status VisitElementwise(const onnx::NodeProto& node, const Value& data);
  absl::StatusOr<RecurrentOpInputs> RecurrentInputs(const onnx::NodeProto& node) const;
  absl::StatusOr<const OnnxConstant*> OptionalConstant(const onnx::NodeProto& node, int index,
                                                       const char* what) const;
  bool KeepsZeros(const onnx::NodeProto& node) const;
  absl::StatusOr<OnnxImport> Assemble(const Value& output);

  const Value* Find(const std::string& name) const;
  const OnnxConstant* Constant(const std::string& name) const;
  absl::StatusOr<std::vector<int64_t>> IntsInput(const onnx::NodeProto& node, int index,
                                                 absl::string_view attribute) const;
  void Set(const std::string& name, Value value) { values_[name] = std::move(value); }

  const onnx::GraphProto& graph_;
  const int64_t opset_;
  const absl::flat_hash_map<std::string, OnnxConstant>& constants_;
  absl::flat_hash_map<std::string, Value> values_;
  absl::flat_hash_set<std::string> sequence_length_inputs_;

  bool tokens_ = false;
  std::optional<RowMatrix> embedding_;
  std::vector<RecurrentOp> recurrent_;
  ElementwiseConstants elementwise_constants_;
  std::optional<AffineFold> input_fold_;  // what feeds the first recurrent layer
  int64_t parameter_count_ = 0;  // embedding and recurrent layers
};

const Value* GraphImporter::Find(const std::string& name) const {
  const auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}

const OnnxConstant* GraphImporter::Constant(const std::string& name) const {
  const auto it = constants_.find(name);
  return it == constants_.end() ? nullptr : &it->second;
}

// Integer operands moved from attributes to inputs over the opsets
// (Squeeze/Unsqueeze axes at 13, Reshape shape always an input).
absl::StatusOr<std::vector<int64_t>> GraphImporter::IntsInput(
    const onnx::NodeProto& node, int index, absl::string_view attribute) const {
  if (node.input_size() > index && !node.input(index).empty()) {
    const OnnxConstant* c = Constant(node.input(index));
    if (c == nullptr || c->is_float) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input ", index, " ('", node.input(index), "') must be a constant integer tensor"));
    }
    return c->ints;
  }
  return NodeAttributes(node).Ints(attribute);
}

absl::Status GraphImporter::Visit(const onnx::NodeProto& node) {
  if (!node.domain().empty() && node.domain() != "ai.onnx") {
    return absl::InvalidArgumentError(
        absl::StrCat("domain '", node.domain(), "' is not supported (ai.onnx only)"));
  }
  RNN_RETURN_IF_ERROR(CheckNode(node));
  const std::string& op = node.op_type();
  if (op == "Constant") return absl::OkStatus();  // In the constant table.
  if (IsRecurrentOp(node)) return VisitRecurrent(node);
  if (op == "Gather") return VisitGather(node);

  // Classify the inputs: at most one may carry data.
  const Value* data = nullptr;
  for (const std::string& input : node.input()) {
    if (input.empty() || Constant(input) != nullptr) continue;
    const Value* v = Find(input);
    if (v == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("input '", input,
                                                     "' is neither computed, an initializer "
                                                     "nor a graph input (missing initializer?)"));
    }
    if (v->kind == Value::Kind::kUnusable) {
      return absl::InvalidArgumentError(
          absl::StrCat("uses '", input, "' (", v->why_unusable, "), which is not supported"));
    }
    if (v->kind == Value::Kind::kData) {
      if (data != nullptr) return absl::InvalidArgumentError("combines two data paths");
      data = v;
    }
  }
  if (data == nullptr) return VisitWithoutData(node);
  if (op == "Shape" || op == "Size") {
    Set(node.output(0), {.kind = Value::Kind::kShapeInfo});
    return absl::OkStatus();
  }
  if (op == "Gemm" || op == "MatMul") return VisitDense(node, *data);
  const bool head_bias = data->head != nullptr && !data->head->biased && !data->head->activated &&
                         data->transform == nullptr;
  if (op == "Add" && head_bias) return VisitBias(node, *data);
  if (IsElementwiseAffine(op)) return VisitElementwise(node, *data);
  if (op == "Softmax" || op == "Sigmoid") return VisitHeadActivation(node, *data);
  return VisitGlue(node, *data);
}

// Zeros survive views of them (and Mul, Concat of zeros only); anything
// else computed from them is not known to be zero.
bool GraphImporter::KeepsZeros(const onnx::NodeProto& node) const {
  auto zeros = [&](const std::string& name) {
    // An export with a fixed time axis expands a constant zero tensor.
    if (const OnnxConstant* c = Constant(name)) {
      return std::all_of(c->floats.begin(), c->floats.end(), [](float f) { return f == 0; }) &&
             std::all_of(c->ints.begin(), c->ints.end(), [](int64_t i) { return i == 0; });
    }
    const Value* v = Find(name);
    return v != nullptr && v->kind == Value::Kind::kZeros;
  };
  static const auto* views = new absl::flat_hash_set<std::string>{
      "Identity", "Reshape", "Squeeze", "Unsqueeze", "Transpose", "Expand", "Slice", "Cast",
      "Gather"};
  const std::string& op = node.op_type();
  if (views->contains(op)) return zeros(node.input(0));
  if (op == "Concat") {
    return std::all_of(node.input().begin(), node.input().end(), zeros);
  }
  if (op == "Mul") return std::any_of(node.input().begin(), node.input().end(), zeros);
  return false;
}

// Shape arithmetic and the zero initial states torch.onnx.export computes.
absl::Status GraphImporter::VisitWithoutData(const onnx::NodeProto& node) {
  elementwise_constants_.Visit(node, [this](const std::string& name) { return Constant(name); });
  if (node.output_size() == 1 && elementwise_constants_.Find(node.output(0)) != nullptr) {
    Set(node.output(0), {.kind = Value::Kind::kShapeInfo});  // A float constant.
    return absl::OkStatus();
  }
  const std::string& op = node.op_type();
  if (op == "ConstantOfShape") {
    bool all_zero = true;  // The default fill is a float 0.
    for (const onnx::AttributeProto& a : node.attribute()) {
      if (a.name() != "value") continue;
      absl::StatusOr<OnnxConstant> c = ConvertTensor(a.t());
      all_zero = c.ok() &&
                 std::all_of(c->floats.begin(), c->floats.end(), [](float f) { return f == 0; }) &&
                 std::all_of(c->ints.begin(), c->ints.end(), [](int64_t i) { return i == 0; });
    }
    Set(node.output(0), {.kind = all_zero ? Value::Kind::kZeros : Value::Kind::kShapeInfo});
    return absl::OkStatus();
  }
  if (!ShapeOps().contains(op)) return absl::InvalidArgumentError("is not supported by rnnserve");
  const Value::Kind kind = KeepsZeros(node) ? Value::Kind::kZeros : Value::Kind::kShapeInfo;
  for (const std::string& output : node.output()) Set(output, {.kind = kind});
  return absl::OkStatus();
}

absl::Status GraphImporter::VisitGather(const onnx::NodeProto& node) {
  if (node.input_size() != 2) return absl::InvalidArgumentError("wants 2 inputs");
  const OnnxConstant* table = Constant(node.input(0));
  const Value* data = Find(node.input(0));
  if (data != nullptr && data->kind == Value::Kind::kData) {
    return absl::InvalidArgumentError("selects from the sequence, which is not supported");
  }
  const Value* indices = Find(node.input(1));
  if (indices == nullptr || indices->kind != Value::Kind::kData) {
    Set(node.output(0), {.kind = Value::Kind::kShapeInfo});  // Shape arithmetic.
    return absl::OkStatus();
  }
  // Token ids have no features axis until the embedding gives them one.
  const bool ids = tokens_ && !embedding_.has_value() &&
                   std::none_of(indices->axes.begin(), indices->axes.end(),
                                [](const Axis& a) { return a.kind == AxisKind::kFeatures; });
  if (table == nullptr || !table->is_float || table->shape.size() != 2 || !ids ||
      NodeAttributes(node).Int("axis", 0) != 0) {
    return absl::InvalidArgumentError(
        "is supported only as the embedding: a float [vocabulary, dim] initializer "
        "gathered by the token-id graph input along axis 0");
  }
  embedding_ = ConstRowMatrixMap(table->floats.data(), table->shape[0], table->shape[1]);
  parameter_count_ += table->size();
  Value out = *indices;
  out.axes.push_back(Axis::Features(table->shape[1]));
  Set(node.output(0), std::move(out));
  return absl::OkStatus();
}

absl::StatusOr<const OnnxConstant*> GraphImporter::OptionalConstant(
    const onnx::NodeProto& node, int index, const char* what) const {
  if (node.input_size() <= index || node.input(index).empty()) return nullptr;
  if (const OnnxConstant* c = Constant(node.input(index))) return c;
  const Value* v = Find(node.input(index));
  if (v != nullptr && v->kind == Value::Kind::kZeros) return nullptr;
  if (v != nullptr && index == 4 && sequence_length_inputs_.contains(node.input(index))) {
    return nullptr;  // A graph input: whole sequences always run to their end.
  }
  return absl::InvalidArgumentError(absl::StrCat(
      what, " ('", node.input(index), "') must be an initializer, a Constant or zeros",
      v == nullptr ? " (missing initializer?)" : ""));
}

absl::StatusOr<RecurrentOpInputs> GraphImporter::RecurrentInputs(
    const onnx::NodeProto& node) const {
  RecurrentOpInputs in;
  RNN_ASSIGN_OR_RETURN(in.w, OptionalConstant(node, 1, "W"));
  RNN_ASSIGN_OR_RETURN(in.r, OptionalConstant(node, 2, "R"));
  RNN_ASSIGN_OR_RETURN(in.b, OptionalConstant(node, 3, "B"));
  RNN_ASSIGN_OR_RETURN(const OnnxConstant* lengths, OptionalConstant(node, 4, "sequence_lens"));
  if (lengths != nullptr) {
    return absl::InvalidArgumentError("constant sequence_lens are not supported; "
                                      "whole-sequence runs use the full sequence");
  }
  RNN_ASSIGN_OR_RETURN(in.initial_h, OptionalConstant(node, 5, "initial_h"));
  RNN_ASSIGN_OR_RETURN(in.initial_c, OptionalConstant(node, 6, "initial_c"));
  RNN_ASSIGN_OR_RETURN(in.p, OptionalConstant(node, 7, "P"));
  for (const OnnxConstant* t : {in.w, in.r, in.b, in.p, in.initial_h, in.initial_c}) {
    if (t != nullptr && !t->is_float) {
      return absl::InvalidArgumentError("weights and initial states must be float tensors");
    }
  }
  return in;
}

absl::Status GraphImporter::VisitRecurrent(const onnx::NodeProto& node) {
  const Value* x = Find(node.input(0));
  if (x == nullptr || x->kind != Value::Kind::kData || x->final_state || x->head != nullptr) {
    return absl::InvalidArgumentError("its input X must be the sequence from the graph input");
  }
  if (x->depth != static_cast<int>(recurrent_.size())) {
    return absl::InvalidArgumentError("branches off the chain of recurrent layers");
  }
  if (x->transform != nullptr && x->depth > 0) {
    return absl::InvalidArgumentError(
        "its input X must be the sequence from the graph input or the layer before, "
        "not an elementwise map of it (transforms go before the first layer or after "
        "the head)");
  }
  if (x->transform != nullptr) input_fold_ = *x->transform;
  RNN_ASSIGN_OR_RETURN(const RecurrentOpInputs in, RecurrentInputs(node));
  RNN_ASSIGN_OR_RETURN(RecurrentOp op, ConvertRecurrentNode(node, in));
  // X must be [time, 1, features] (layout 0) or [1, time, features].
  const Axes want = op.layout == 0
                        ? Axes{Axis::Time(), Axis::Unit(), Axis::Features(op.input_size)}
                        : Axes{Axis::Unit(), Axis::Time(), Axis::Features(op.input_size)};
  Axes got = x->axes;
  if (got.size() == 3 && got.back().kind == AxisKind::kFeatures && got.back().size == -1) {
    got.back().size = op.input_size;  // The graph input left the size open.
  }
  if (got != want) {
    return absl::InvalidArgumentError(absl::StrCat("X is ", AxesToString(x->axes), ", want ",
                                                   AxesToString(want)));
  }
  const int depth = static_cast<int>(recurrent_.size()) + 1;
  const Axis dirs = Axis::Directions(op.directions);
  const Axis features = Axis::Features(op.hidden_size);
  Value y{.kind = Value::Kind::kData, .depth = depth};
  y.axes = op.layout == 0 ? Axes{Axis::Time(), dirs, Axis::Unit(), features}
                          : Axes{Axis::Unit(), Axis::Time(), dirs, features};
  Value y_h = y;
  y_h.final_state = true;
  y_h.axes = op.layout == 0 ? Axes{dirs, Axis::Unit(), features}
                            : Axes{Axis::Unit(), dirs, features};
  if (node.output_size() > 0 && !node.output(0).empty()) Set(node.output(0), y);
  if (node.output_size() > 1 && !node.output(1).empty()) Set(node.output(1), y_h);
  if (node.output_size() > 2 && !node.output(2).empty()) {
    Set(node.output(2), {.kind = Value::Kind::kUnusable, .why_unusable = "a cell state output"});
  }
  parameter_count_ += op.parameter_count;
  recurrent_.push_back(std::move(op));
  return absl::OkStatus();
}

absl::Status GraphImporter::VisitGlue(const onnx::NodeProto& node, const Value& data) {
  const std::string& op = node.op_type();
  const NodeAttributes attributes(node);
  Value out = data;
  if (op == "Identity" || op == "Dropout") {
    // Dropout is the identity at inference.
  } else if (op == "Cast" && attributes.Int("to", 0) == onnx::TensorProto::FLOAT && !tokens_) {
  } else if (op == "Squeeze") {
    RNN_ASSIGN_OR_RETURN(const std::vector<int64_t> axes, IntsInput(node, 1, "axes"));
    RNN_ASSIGN_OR_RETURN(out.axes, SqueezeAxes(data.axes, axes));
  } else if (op == "Unsqueeze") {
    RNN_ASSIGN_OR_RETURN(const std::vector<int64_t> axes, IntsInput(node, 1, "axes"));
    RNN_ASSIGN_OR_RETURN(out.axes, UnsqueezeAxes(data.axes, axes));
  } else if (op == "Transpose") {
    RNN_ASSIGN_OR_RETURN(out.axes, TransposeAxes(data.axes, attributes.Ints("perm")));
  } else if (op == "Reshape") {
    RNN_ASSIGN_OR_RETURN(const std::vector<int64_t> shape, IntsInput(node, 1, "shape"));
    RNN_ASSIGN_OR_RETURN(out.axes,
                         ReshapeAxes(data.axes, shape, attributes.Int("allowzero", 0) != 0));
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("is not supported on the data path (it would change the ",
                     AxesToString(data.axes), " sequence)"));
  }
  Set(node.output(0), std::move(out));
  return absl::OkStatus();
}

// MatMul(data, W) or Gemm(data, W, C): the head's matrix, once, after the
// last recurrent layer.
absl::Status GraphImporter::VisitDense(const onnx::NodeProto& node, const Value& data) {
  if (data.depth != static_cast<int>(recurrent_.size()) || data.depth == 0 ||
      data.head != nullptr || data.transform != nullptr) {
    return absl::InvalidArgumentError(
        "is supported only as the one dense head after the last recurrent layer");
  }
  const Axis last = data.axes.empty() ? Axis::Unit() : data.axes.back();
  const OnnxConstant* w = Constant(node.input(1));
  if (Find(node.input(0)) != &data || last.kind != AxisKind::kFeatures || w == nullptr ||
      !w->is_float || w->shape.size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "wants the sequence ", AxesToString(data.axes),
        " as its first input (features last) and a 2-D float initializer as its second"));
  }
  const NodeAttributes attributes(node);
  const bool gemm = node.op_type() == "Gemm";
  auto head = std::make_shared<HeadParts>();
  head->weight = ConstRowMatrixMap(w->floats.data(), w->shape[0], w->shape[1]);
  if (gemm && attributes.Int("transB", 0) != 0) head->weight = head->weight.transpose().eval();
  if (head->weight.rows() != last.size) {
    return absl::InvalidArgumentError(absl::StrCat("weight is ", ShapeToString(w->shape),
                                                   ", want ", last.size, " inputs"));
  }
  if (gemm) {
    if (attributes.Int("transA", 0) != 0 || data.axes.size() != 2) {
      return absl::InvalidArgumentError("Gemm wants A as [steps, features], transA=0");
    }
    head->weight *= attributes.Float("alpha", 1.0f);
    head->biased = true;
    if (node.input_size() > 2 && !node.input(2).empty()) {
      const OnnxConstant* c = Constant(node.input(2));
      if (c == nullptr || !c->is_float || c->shape.size() > 2 ||
          c->size() != head->weight.cols()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Gemm's C must be a float initializer of shape [", head->weight.cols(), "]"));
      }
      head->bias = Eigen::Map<const RowVector>(c->floats.data(), c->size()) *
                   attributes.Float("beta", 1.0f);
    }
  }
  // alpha and beta are finite (CheckNode), but their products may not be.
  if (!head->weight.allFinite() || !head->bias.allFinite()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "alpha ", attributes.Float("alpha", 1.0f), " and beta ", attributes.Float("beta", 1.0f),
        " scale the weights beyond float32 range"));
  }
  Value out = data;
  out.axes.back() = Axis::Features(head->weight.cols());
  out.head = std::move(head);
  Set(node.output(0), std::move(out));
  return absl::OkStatus();
}

// Add(data, b) after a MatMul head: its bias over the features axis.
absl::Status GraphImporter::VisitBias(const onnx::NodeProto& node, const Value& data) {
  const bool data_first = Find(node.input(0)) == &data;
  const OnnxConstant* b = Constant(node.input(data_first ? 1 : 0));
  const int64_t out = data.head != nullptr ? data.head->weight.cols() : 0;
  const bool leading_ones =
      b != nullptr && b->shape.size() <= data.axes.size() && !b->shape.empty() &&
      std::all_of(b->shape.begin(), b->shape.end() - 1, [](int64_t d) { return d == 1; });
  if (data.head == nullptr || data.head->biased || data.head->activated || b == nullptr ||
      !b->is_float || !leading_ones || b->shape.back() != out || data.axes.empty() ||
      data.axes.back() != Axis::Features(out)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "is supported only as the bias of a MatMul head: a float initializer [", out,
        "] added over the features axis"));
  }
  auto head = std::make_shared<HeadParts>(*data.head);
  head->bias = Eigen::Map<const RowVector>(b->floats.data(), out);
  head->biased = true;
  Value result = data;
  result.head = std::move(head);
  Set(node.output(0), std::move(result));
  return absl::OkStatus();
}

absl::Status GraphImporter::VisitHeadActivation(const onnx::NodeProto& node, const Value& data) {
  if (data.head == nullptr || data.head->activated || data.transform != nullptr) {
    return absl::InvalidArgumentError("is supported only right after the dense head");
  }
  auto head = std::make_shared<HeadParts>(*data.head);
  if (node.op_type() == "Softmax") {
    const int64_t fallback = opset_ >= 13 ? -1 : 1;
    RNN_ASSIGN_OR_RETURN(const int axis, NormalizeAxis(NodeAttributes(node).Int("axis", fallback),
                                                       data.axes.size()));
    // Before opset 13 Softmax flattens from `axis` on: fine if only the
    // features axis is bigger than 1 there.
    const Axes tail(data.axes.begin() + axis, data.axes.end());
    const Axes rest = opset_ >= 13 ? Axes{data.axes[axis]} : NonUnit(tail);
    if (rest.size() != 1 || rest[0].kind != AxisKind::kFeatures) {
      return absl::InvalidArgumentError("must normalise over the features axis only");
    }
    head->activation = HeadActivation::kSoftmax;
  } else {
    head->activation = HeadActivation::kSigmoid;
  }
  head->activated = true;
  Value out = data;
  out.head = std::move(head);
  Set(node.output(0), std::move(out));
  return absl::OkStatus();
}

// Add/Sub/Mul/Div with a constant before the first recurrent layer or after
// the last (and its head): folded into the model's input or output transform.
absl::Status GraphImporter::VisitElementwise(const onnx::NodeProto& node, const Value& data) {
  const bool data_first = Find(node.input(0)) == &data;
  const std::string& other = node.input(data_first ? 1 : 0);
  const OnnxConstant* constant = Constant(other);
  if (constant == nullptr) constant = elementwise_constants_.Find(other);
  if (constant == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "its other operand '", other, "' must be a float constant (a per-step transform)"));
  }
  const bool input_side = data.depth == 0;
  if (input_side && tokens_) {
    return absl::InvalidArgumentError(
        "is an input transform on a model that takes token ids; transforms apply to "
        "float inputs only");
  }
  AffineFold fold;
  if (data.transform != nullptr) {
    fold = *data.transform;
  } else {
    fold.side = input_side ? StepTransform::Side::kInput : StepTransform::Side::kOutput;
  }
  RNN_ASSIGN_OR_RETURN(fold,
                       FoldElementwise(fold, node.op_type(), *constant, data_first, data.axes));
  Value out = data;
  out.transform = std::make_shared<const AffineFold>(std::move(fold));
  Set(node.output(0), std::move(out));
  return absl::OkStatus();
}

absl::StatusOr<OnnxImport> GraphImporter::Assemble(const Value& output) {
  if (output.kind != Value::Kind::kData || output.depth == 0 ||
      output.depth != static_cast<int>(recurrent_.size())) {
    return absl::InvalidArgumentError(
        "the graph output is not computed by the chain of recurrent layers");
  }
  const Axes axes = NonUnit(output.axes);
  const bool every_step = !axes.empty() && axes[0].kind == AxisKind::kTime;
  const Axes row(axes.begin() + (every_step ? 1 : 0), axes.end());
  const bool row_ok = (row.size() == 1 && row[0].kind == AxisKind::kFeatures) ||
                      (row.size() == 2 && row[0].kind == AxisKind::kDirections &&
                       row[1].kind == AxisKind::kFeatures);
  if (every_step == output.final_state || !row_ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the graph output is ", AxesToString(output.axes),
        "; want the steps' outputs [time, features] or a final state [features]"));
  }
  std::vector<LayerLevel> levels;
  for (RecurrentOp& op : recurrent_) levels.push_back(std::move(op.level));
  std::optional<DenseHead> head;
  int64_t head_parameters = 0;
  if (output.head != nullptr) {
    const HeadParts& parts = *output.head;
    head_parameters = parts.weight.size() + parts.bias.size();
    RNN_ASSIGN_OR_RETURN(head, DenseHead::Create(parts.weight, parts.bias, parts.activation));
  }
  StepTransforms transforms;
  if (input_fold_.has_value()) {
    RNN_ASSIGN_OR_RETURN(transforms.input, ToStepTransform(*input_fold_));
  }
  if (output.transform != nullptr) {
    RNN_ASSIGN_OR_RETURN(transforms.output, ToStepTransform(*output.transform));
  }
  RNN_ASSIGN_OR_RETURN(
      LayerStack stack,
      LayerStack::Create(std::move(embedding_), std::move(levels), std::move(head), false,
                         every_step ? SequenceOutput::kEveryStep : SequenceOutput::kFinalState,
                         std::move(transforms)));
  const RecurrentOp& first = recurrent_.front();
  return OnnxImport{
      .stack = std::move(stack),
      .parameter_count = parameter_count_ + head_parameters,
      .summary = absl::StrCat(recurrent_.size(), " x ", first.cell, ", output ",
                              every_step ? "Y" : "Y_h", ", ai.onnx opset ", opset_),
      .cell = first.cell,
      .num_layers = static_cast<int>(recurrent_.size()),
      .hidden_size = first.hidden_size,
      .bidirectional = first.directions == 2,
  };
}

absl::StatusOr<OnnxImport> GraphImporter::Import(const Axes& input_axes, bool tokens) {
  tokens_ = tokens;
  absl::flat_hash_set<std::string> initializers;
  for (const onnx::TensorProto& t : graph_.initializer()) initializers.insert(t.name());
  bool have_input = false;
  for (const onnx::ValueInfoProto& input : graph_.input()) {
    if (initializers.contains(input.name())) continue;  // Old IR: weights listed as inputs.
    if (!have_input) {
      Set(input.name(), {.kind = Value::Kind::kData, .axes = input_axes});
      have_input = true;
    } else {
      sequence_length_inputs_.insert(input.name());
      Set(input.name(), {.kind = Value::Kind::kUnusable,
                         .why_unusable = "a second graph input: a model takes one "
                                         "sequence, plus at most sequence_lens"});
    }
  }
  for (const onnx::NodeProto& node : graph_.node()) {
    absl::Status status = Visit(node);
    if (!status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(DescribeNode(node), ": ", status.message()));
    }
  }
  if (graph_.output_size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the graph has ", graph_.output_size(), " outputs, want 1 (Y or Y_h)"));
  }
  const Value* output = Find(graph_.output(0).name());
  if (output == nullptr) return absl::InvalidArgumentError("the graph output is never computed");
  return Assemble(*output);
}

// The readings of the graph input's axes worth trying: which dimension is
// time; the others must be a batch of one. A dimension fixed at a size
// above 1 can only be time (a fixed batch of five is five sequences, which
// one session cannot be). The first reading that imports wins.
std::vector<Axes> InputReadings(const onnx::ValueInfoProto& input, bool tokens) {
  const auto& dims = input.type().tensor_type().shape().dim();
  const int rank = dims.size();
  const int64_t features =
      !tokens && rank > 0 && dims[rank - 1].has_dim_value() ? dims[rank - 1].dim_value() : -1;
  const int sequence_rank = tokens ? rank : rank - 1;
  std::vector<Axes> readings;
  if (sequence_rank < 1 || sequence_rank > 2) return readings;
  for (int time = 0; time < sequence_rank; ++time) {
    Axes axes;
    bool possible = true;
    for (int i = 0; i < sequence_rank; ++i) {
      if (i == time) {
        axes.push_back(Axis::Time());
        continue;
      }
      possible &= !dims[i].has_dim_value() || dims[i].dim_value() == 1;
      axes.push_back(Axis::Unit());
    }
    if (!tokens) axes.push_back(Axis::Features(features));
    if (possible) readings.push_back(std::move(axes));
  }
  return readings;
}

}  // namespace

absl::StatusOr<OnnxImport> ImportOnnxModel(absl::string_view bytes, absl::string_view source) {
  auto fail = [&](const absl::Status& status) {
    return absl::Status(status.code(), absl::StrCat(source, ": ", status.message()));
  };
  absl::StatusOr<OnnxModel> model = ParseOnnxModel(bytes);
  if (!model.ok()) return fail(model.status());
  const onnx::GraphProto& graph = model->proto.graph();
  absl::StatusOr<absl::flat_hash_map<std::string, OnnxConstant>> constants =
      CollectConstants(graph);
  if (!constants.ok()) return fail(constants.status());
  const onnx::ValueInfoProto* input = nullptr;
  for (const onnx::ValueInfoProto& candidate : graph.input()) {
    if (!constants->contains(candidate.name())) {
      input = &candidate;
      break;
    }
  }
  if (input == nullptr) return fail(absl::InvalidArgumentError("the graph has no input"));
  const int type = input->type().tensor_type().elem_type();
  const bool tokens = type == onnx::TensorProto::INT64 || type == onnx::TensorProto::INT32;
  if (!tokens && type != onnx::TensorProto::FLOAT) {
    return fail(absl::InvalidArgumentError(absl::StrCat(
        "graph input '", input->name(), "' has element type ", type,
        "; want float features or int64/int32 token ids")));
  }
  absl::Status first_error;
  for (const Axes& reading : InputReadings(*input, tokens)) {
    GraphImporter importer(graph, model->opset, *constants);
    absl::StatusOr<OnnxImport> imported = importer.Import(reading, tokens);
    if (imported.ok()) return imported;
    if (first_error.ok()) first_error = imported.status();
  }
  if (first_error.ok()) {
    first_error = absl::InvalidArgumentError(absl::StrCat(
        "graph input '", input->name(), "' has rank ",
        input->type().tensor_type().shape().dim_size(),
        "; want [time, features] floats (optionally with a batch axis of 1) or [time] ids"));
  }
  return fail(first_error);
}

}  // namespace rnnserve::model
