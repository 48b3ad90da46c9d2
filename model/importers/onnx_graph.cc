#include "model/importers/onnx_graph.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/importers/onnx_axes.h"
#include "model/importers/onnx_constant_eval.h"
#include "model/importers/onnx_elementwise.h"
#include "model/importers/onnx_node_checks.h"
#include "model/importers/onnx_reader.h"
#include "model/importers/onnx_recurrent_op.h"
#include "util/status_macros.h"

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
    kData,      // on the path from the input: its axes are tracked
    kZeros,     // all zeros of a shape known only when a session runs, or a
                // state graph input (sessions start from zeros)
    kUnusable,  // a Y_c output, or a value not proven at load: fine unless
                // something uses it
  };
  // Constants (initializers, Constant nodes and what EvaluateConstantNode
  // computes from them) are not Values: they live in the constant tables.
  Kind kind = Kind::kUnusable;
  Axes axes;                // kData
  int depth = 0;            // kData: recurrent levels applied so far
  bool final_state = false; // kData: derived from Y_h
  std::shared_ptr<const HeadParts> head;  // kData: the head applied, if any
  bool from_state_input = false;          // kZeros: a graph input (h0, c0) or a view of one
  std::shared_ptr<const AffineFold> transform;  // kData: elementwise ops so far
  std::string why_unusable; // kUnusable
};

// The node computing each tensor, by name.
absl::flat_hash_map<std::string, const onnx::NodeProto*> Producers(const onnx::GraphProto& graph) {
  absl::flat_hash_map<std::string, const onnx::NodeProto*> producers;
  for (const onnx::NodeProto& node : graph.node()) {
    for (const std::string& output : node.output()) producers[output] = &node;
  }
  return producers;
}

// The nodes the graph output `output` depends on, in graph order: the model
// is what computes its output, so a dead branch cannot change it.
std::vector<const onnx::NodeProto*> NodesFeeding(const onnx::GraphProto& graph,
                                                 const std::string& output) {
  const auto producers = Producers(graph);
  absl::flat_hash_set<const onnx::NodeProto*> needed;
  std::vector<std::string> pending = {output};
  while (!pending.empty()) {
    const auto it = producers.find(pending.back());
    pending.pop_back();
    if (it == producers.end() || !needed.insert(it->second).second) continue;
    pending.insert(pending.end(), it->second->input().begin(), it->second->input().end());
  }
  std::vector<const onnx::NodeProto*> nodes;
  for (const onnx::NodeProto& node : graph.node()) {
    if (needed.contains(&node)) nodes.push_back(&node);
  }
  return nodes;
}

// OK when the extra graph output `name` is computed from recurrent states
// only (Y_h, Y_c: torch's hn and cn). The model serves its first output; a
// session's state stays in the session, so these are not served.
absl::Status CheckIgnoredOutput(const onnx::GraphProto& graph, const std::string& name,
                                const std::string& data_input) {
  const auto producers = Producers(graph);
  auto refuse = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "graph output '", name, "' ", why,
        "; a model serves its first output, and further "
        "outputs may only be recurrent states (Y_h, Y_c: torch's hn, cn), which are ignored"));
  };
  bool reaches_state = false;
  absl::flat_hash_set<std::string> seen;
  std::vector<std::string> pending = {name};
  while (!pending.empty()) {
    const std::string tensor = std::move(pending.back());
    pending.pop_back();
    if (tensor.empty() || !seen.insert(tensor).second) continue;
    if (tensor == data_input) return refuse("uses the input sequence other than through a state");
    const auto it = producers.find(tensor);
    if (it == producers.end()) continue;  // An initializer or a state input.
    const onnx::NodeProto& node = *it->second;
    if (IsRecurrentOp(node)) {
      if (node.output(0) == tensor) return refuse(absl::StrCat("uses Y of ", DescribeNode(node)));
      reaches_state = true;
      continue;
    }
    pending.insert(pending.end(), node.input().begin(), node.input().end());
  }
  return reaches_state ? absl::OkStatus() : refuse("is not computed from a recurrent state");
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
  absl::Status VisitShape(const onnx::NodeProto& node, const Value& data);
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
  const OnnxConstant* TransformConstant(const std::string& name) const;
  absl::Status Store(const onnx::NodeProto& node, std::vector<OnnxConstant> outputs,
                     absl::flat_hash_map<std::string, OnnxConstant>& table);
  absl::StatusOr<std::vector<int64_t>> IntsInput(const onnx::NodeProto& node, int index,
                                                 absl::string_view attribute) const;
  void Set(const std::string& name, Value value) { values_[name] = std::move(value); }

  const onnx::GraphProto& graph_;
  const int64_t opset_;
  const absl::flat_hash_map<std::string, OnnxConstant>& constants_;
  // What EvaluateConstantNode computed at load (shape vectors, zero
  // states, weights sliced out of initializers without constant folding).
  absl::flat_hash_map<std::string, OnnxConstant> computed_;
  int64_t computed_elements_ = 0;  // bounded by kMaxEvaluatedTotal
  absl::flat_hash_map<std::string, Value> values_;

  bool tokens_ = false;
  std::optional<RowMatrix> embedding_;
  std::vector<RecurrentOp> recurrent_;
  // What EvaluateConstantNode computed with float arithmetic, or from such a
  // result (torch's Reciprocal(std), Neg(mean), mean / std): the operands of
  // an input or output transform only, never weights or states, so apart
  // from computed_.
  absl::flat_hash_map<std::string, OnnxConstant> transform_constants_;
  std::optional<AffineFold> input_fold_;  // what feeds the first recurrent layer
  int64_t parameter_count_ = 0;  // embedding and recurrent layers
};

const Value* GraphImporter::Find(const std::string& name) const {
  const auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}

const OnnxConstant* GraphImporter::Constant(const std::string& name) const {
  if (const auto it = constants_.find(name); it != constants_.end()) return &it->second;
  const auto it = computed_.find(name);
  return it == computed_.end() ? nullptr : &it->second;
}

const OnnxConstant* GraphImporter::TransformConstant(const std::string& name) const {
  const auto it = transform_constants_.find(name);
  return it == transform_constants_.end() ? nullptr : &it->second;
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

// Every node of the file, used or not, is well formed and of the ai.onnx
// domain: a malformed file is refused rather than partly read.
absl::Status CheckStructure(const onnx::NodeProto& node) {
  if (!node.domain().empty() && node.domain() != "ai.onnx") {
    return absl::InvalidArgumentError(
        absl::StrCat("domain '", node.domain(), "' is not supported (ai.onnx only)"));
  }
  return CheckNode(node);
}

absl::Status GraphImporter::Visit(const onnx::NodeProto& node) {
  const std::string& op = node.op_type();
  if (op == "Constant") return absl::OkStatus();  // In the constant table.
  if (IsRecurrentOp(node)) return VisitRecurrent(node);
  if (op == "Gather") return VisitGather(node);

  // Classify the inputs: at most one may carry data.
  const Value* data = nullptr;
  absl::Status unusable;
  for (const std::string& input : node.input()) {
    if (input.empty() || Constant(input) != nullptr) continue;
    if (TransformConstant(input) != nullptr) continue;  // A transform's operand.
    const Value* v = Find(input);
    if (v == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("input '", input,
                                                     "' is neither computed, an initializer "
                                                     "nor a graph input (missing initializer?)"));
    }
    if (v->kind == Value::Kind::kUnusable && unusable.ok()) {
      unusable = absl::InvalidArgumentError(
          absl::StrCat("uses '", input, "' (", v->why_unusable, "), which is not supported"));
    }
    if (v->kind == Value::Kind::kData) {
      if (data != nullptr) return absl::InvalidArgumentError("combines two data paths");
      data = v;
    }
  }
  // The head's ops say themselves which operand must be an initializer.
  const bool head_op = data != nullptr && (op == "Gemm" || op == "MatMul" || op == "Add");
  if (!unusable.ok() && !head_op) return unusable;
  for (const std::string& input : node.input()) {
    const Value* v = input.empty() ? nullptr : Find(input);
    if (data != nullptr && v != nullptr && v->from_state_input) {
      return absl::InvalidArgumentError(absl::StrCat(
          "uses '", input,
          "' (a second graph input) with the sequence: a model takes one "
          "sequence; further graph inputs may only be initial states or sequence_lens"));
    }
  }
  if (data == nullptr) return VisitWithoutData(node);
  if (op == "Shape" || op == "Size") return VisitShape(node, *data);
  if (op == "Gemm" || op == "MatMul") return VisitDense(node, *data);
  const bool head_bias = data->head != nullptr && !data->head->biased && !data->head->activated &&
                         data->transform == nullptr;
  if (op == "Add" && head_bias) return VisitBias(node, *data);
  if (IsElementwiseAffine(op)) return VisitElementwise(node, *data);
  if (op == "Softmax" || op == "LogSoftmax" || op == "Sigmoid" || op == "Tanh" || op == "Relu") {
    return VisitHeadActivation(node, *data);
  }
  return VisitGlue(node, *data);
}

// Zeros survive views of them (and Mul, Concat of zeros only); anything
// else computed from them is not known to be zero.
bool GraphImporter::KeepsZeros(const onnx::NodeProto& node) const {
  auto zeros = [&](const std::string& name) {
    // An export with a fixed time axis expands a constant zero tensor.
    if (const OnnxConstant* c = Constant(name)) return IsAllZero(*c);
    const Value* v = Find(name);
    return v != nullptr && v->kind == Value::Kind::kZeros;
  };
  static const auto* views = new absl::flat_hash_set<std::string>{
      "Identity", "Reshape", "Squeeze", "Unsqueeze", "Transpose", "Expand", "Slice", "Cast",
      "Gather"};
  const std::string& op = node.op_type();
  if (op == "ConstantOfShape") {
    const NodeAttributes attributes(node);
    if (!attributes.Has("value")) return true;  // The default fill is a float 0.
    for (const onnx::AttributeProto& a : node.attribute()) {
      if (a.name() != "value") continue;
      absl::StatusOr<OnnxConstant> fill = ConvertTensor(a.t());
      return fill.ok() && IsAllZero(*fill);
    }
  }
  if (views->contains(op)) return zeros(node.input(0));
  if (op == "Concat") {
    return std::all_of(node.input().begin(), node.input().end(), zeros);
  }
  if (op == "Mul") return std::any_of(node.input().begin(), node.input().end(), zeros);
  return false;
}

// Nodes off the data path: evaluated when their inputs are known (shape
// arithmetic, weights computed from initializers); otherwise zeros when
// provably so, or unusable with the reason, refused only if something uses it.
absl::Status GraphImporter::VisitWithoutData(const onnx::NodeProto& node) {
  const std::string& op = node.op_type();
  if (!IsConstantEvaluable(op) && op != "ConstantOfShape") {
    return absl::InvalidArgumentError("is not supported by rnnserve");
  }
  std::vector<const OnnxConstant*> inputs;
  bool known = true;
  bool for_transform = false;  // an input is a transform's constant
  bool from_state_input = false;
  for (const std::string& input : node.input()) {
    const OnnxConstant* c = input.empty() ? nullptr : Constant(input);
    if (c == nullptr && !input.empty() && (c = TransformConstant(input)) != nullptr) {
      for_transform = true;
    }
    inputs.push_back(c);
    if (c != nullptr || input.empty()) continue;
    known = false;
    const Value* v = Find(input);
    from_state_input |= v != nullptr && v->from_state_input;
  }
  absl::Status why = absl::InvalidArgumentError("uses a value not known at load");
  if (known && !for_transform) {
    absl::StatusOr<std::vector<OnnxConstant>> outputs = EvaluateConstantNode(node, inputs, opset_);
    if (outputs.ok()) return Store(node, *std::move(outputs), computed_);
    why = outputs.status();
  }
  if (KeepsZeros(node)) {
    for (const std::string& output : node.output()) {
      Set(output, {.kind = Value::Kind::kZeros, .from_state_input = from_state_input});
    }
    return absl::OkStatus();
  }
  // Float arithmetic of constants (torch's Reciprocal(std), Neg(mean),
  // mean / std) gives the operand of a transform, never a weight or state.
  if (known) {
    absl::StatusOr<std::vector<OnnxConstant>> outputs =
        EvaluateConstantNode(node, inputs, opset_, FloatArithmetic::kEvaluate);
    if (outputs.ok()) return Store(node, *std::move(outputs), transform_constants_);
    if (for_transform) why = outputs.status();
  }
  for (const std::string& output : node.output()) {
    Set(output, {.kind = Value::Kind::kUnusable,
                 .why_unusable = absl::StrCat(DescribeNode(node), ": ", why.message())});
  }
  return absl::OkStatus();
}

// Records a node's evaluated outputs in `table` (computed_ or
// transform_constants_); INVALID_ARGUMENT past kMaxEvaluatedTotal.
absl::Status GraphImporter::Store(const onnx::NodeProto& node, std::vector<OnnxConstant> outputs,
                                  absl::flat_hash_map<std::string, OnnxConstant>& table) {
  for (const OnnxConstant& output : outputs) computed_elements_ += output.size();
  if (computed_elements_ > kMaxEvaluatedTotal) {
    return absl::InvalidArgumentError(absl::StrCat("computes more than ", kMaxEvaluatedTotal,
                                                   " elements at load, with the nodes before"));
  }
  for (size_t i = 0; i < outputs.size() && i < static_cast<size_t>(node.output_size()); ++i) {
    table[node.output(i)] = std::move(outputs[i]);
  }
  return absl::OkStatus();
}

// Shape or Size of the sequence: the batch is one session, the time axis
// is known only when it runs.
absl::Status GraphImporter::VisitShape(const onnx::NodeProto& node, const Value& data) {
  std::vector<int64_t> dims;
  for (const Axis& axis : data.axes) {
    dims.push_back(axis.kind == AxisKind::kTime || axis.size < 0 ? kSymbolicDim : axis.size);
  }
  if (node.op_type() == "Size") {
    computed_[node.output(0)] = OnnxConstant{.is_float = false, .ints = {kSymbolicDim}};
  } else {
    computed_[node.output(0)] = ShapeOf(dims, node);
  }
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
    return VisitWithoutData(node);  // Shape arithmetic, or a constant table.
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
  const bool state = index == 5 || index == 6;  // initial_h, initial_c
  if (v != nullptr && v->kind == Value::Kind::kZeros && (state || !v->from_state_input)) {
    return nullptr;
  }
  if (v != nullptr && index == 4 && v->from_state_input) {
    return nullptr;  // A graph input: whole sequences always run to their end.
  }
  std::string why = v == nullptr ? " (missing initializer?)" : "";
  if (TransformConstant(node.input(index)) != nullptr) {
    why = " (computed with float arithmetic, which is evaluated only for input and output "
          "transforms)";
  }
  if (v != nullptr && v->kind == Value::Kind::kUnusable) {
    why = absl::StrCat(" (", v->why_unusable, ")");
  } else if (v != nullptr && v->from_state_input) {
    why = " (a graph input: only initial_h, initial_c and sequence_lens may be one)";
  }
  return absl::InvalidArgumentError(absl::StrCat(
      what, " ('", node.input(index), "') must be an initializer, a Constant or zeros", why));
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
  const std::string& op = node.op_type();
  if (op == "Softmax" || op == "LogSoftmax") {
    const int64_t fallback = opset_ >= 13 ? -1 : 1;
    RNN_ASSIGN_OR_RETURN(const int axis, NormalizeAxis(NodeAttributes(node).Int("axis", fallback),
                                                       data.axes.size()));
    // Before opset 13 (Log)Softmax flattens from `axis` on: fine if only the
    // features axis is bigger than 1 there.
    const Axes tail(data.axes.begin() + axis, data.axes.end());
    const Axes rest = opset_ >= 13 ? Axes{data.axes[axis]} : NonUnit(tail);
    if (rest.size() != 1 || rest[0].kind != AxisKind::kFeatures) {
      return absl::InvalidArgumentError("must normalise over the features axis only");
    }
    head->activation = op == "Softmax" ? HeadActivation::kSoftmax : HeadActivation::kLogSoftmax;
  } else if (op == "Sigmoid") {
    head->activation = HeadActivation::kSigmoid;
  } else if (op == "Tanh") {
    head->activation = HeadActivation::kTanh;
  } else {
    head->activation = HeadActivation::kRelu;
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
  if (constant == nullptr) constant = TransformConstant(other);
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
  std::string data_input;
  for (const onnx::ValueInfoProto& input : graph_.input()) {
    // Weights listed as inputs too (old IR, keep_initializers_as_inputs) are
    // initializers; an initializer is also a state input's default.
    if (initializers.contains(input.name())) continue;
    if (data_input.empty()) {
      Set(input.name(), {.kind = Value::Kind::kData, .axes = input_axes});
      data_input = input.name();
    } else {
      // h0 / c0 (or sequence_lens): what a session starts from is its own
      // state, zeros at its start, so the graph's view of it is zeros.
      Set(input.name(), {.kind = Value::Kind::kZeros, .from_state_input = true});
    }
  }
  if (graph_.output_size() == 0) return absl::InvalidArgumentError("the graph has no output");
  for (int i = 1; i < graph_.output_size(); ++i) {
    RNN_RETURN_IF_ERROR(CheckIgnoredOutput(graph_, graph_.output(i).name(), data_input));
  }
  for (const onnx::NodeProto& node : graph_.node()) {
    absl::Status status = CheckStructure(node);
    if (!status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(DescribeNode(node), ": ", status.message()));
    }
  }
  for (const onnx::NodeProto* node : NodesFeeding(graph_, graph_.output(0).name())) {
    absl::Status status = Visit(*node);
    if (!status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(DescribeNode(*node), ": ", status.message()));
    }
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
  absl::StatusOr<OnnxModel> model = ParseOnnxModel(bytes);
  if (!model.ok()) {
    return absl::Status(model.status().code(),
                        absl::StrCat(source, ": ", model.status().message()));
  }
  return ImportOnnxModel(*model, source);
}

absl::StatusOr<OnnxImport> ImportOnnxModel(const OnnxModel& model, absl::string_view source) {
  auto fail = [&](const absl::Status& status) {
    return absl::Status(status.code(), absl::StrCat(source, ": ", status.message()));
  };
  const onnx::GraphProto& graph = model.proto.graph();
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
    GraphImporter importer(graph, model.opset, *constants);
    absl::StatusOr<OnnxImport> imported = importer.Import(reading, tokens);
    if (imported.ok()) return imported;
    if (first_error.ok()) first_error = imported.status();
  }
  if (first_error.ok()) {
    std::vector<std::string> dims;
    for (const onnx::TensorShapeProto::Dimension& d : input->type().tensor_type().shape().dim()) {
      dims.push_back(d.has_dim_value() ? absl::StrCat(d.dim_value()) : d.dim_param());
    }
    first_error = absl::InvalidArgumentError(absl::StrCat(
        "graph input '", input->name(), "' is [", absl::StrJoin(dims, ", "),
        "]; want [time, features] floats or [time] ids, optionally with one batch axis of "
        "size 1 (a session is a batch of one; export with a batch of 1 or dynamic_axes)"));
  }
  return fail(first_error);
}

}  // namespace rnnserve::model
