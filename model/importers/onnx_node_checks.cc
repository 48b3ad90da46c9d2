#include "model/importers/onnx_node_checks.h"

#include <algorithm>
#include <cmath>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace rnnserve::model {
namespace {

// Inputs an op needs at least (the rest are optional).
int MinInputs(const std::string& op) {
  static const auto* table = new absl::flat_hash_map<std::string, int>{
      {"LSTM", 3},   {"GRU", 3},     {"RNN", 3},      {"Gemm", 2},     {"MatMul", 2},
      {"Add", 2},    {"Sub", 2},     {"Mul", 2},      {"Div", 2},      {"Equal", 2},
      {"Gather", 2}, {"Reshape", 2}, {"Expand", 2},   {"Range", 3},    {"Where", 3},
      {"Concat", 1}, {"Constant", 0}};
  const auto it = table->find(op);
  return it == table->end() ? 1 : it->second;
}

using Type = onnx::AttributeProto::AttributeType;

// The type of each attribute the importer reads, whatever the op.
const absl::flat_hash_map<std::string, Type>& AttributeTypes() {
  static const auto* table = new absl::flat_hash_map<std::string, Type>{
      {"hidden_size", onnx::AttributeProto::INT},
      {"layout", onnx::AttributeProto::INT},
      {"input_forget", onnx::AttributeProto::INT},
      {"linear_before_reset", onnx::AttributeProto::INT},
      {"axis", onnx::AttributeProto::INT},
      {"transA", onnx::AttributeProto::INT},
      {"transB", onnx::AttributeProto::INT},
      {"allowzero", onnx::AttributeProto::INT},
      {"to", onnx::AttributeProto::INT},
      {"clip", onnx::AttributeProto::FLOAT},
      {"alpha", onnx::AttributeProto::FLOAT},
      {"beta", onnx::AttributeProto::FLOAT},
      {"direction", onnx::AttributeProto::STRING},
      {"activations", onnx::AttributeProto::STRINGS},
      {"activation_alpha", onnx::AttributeProto::FLOATS},
      {"activation_beta", onnx::AttributeProto::FLOATS},
      {"perm", onnx::AttributeProto::INTS},
      {"axes", onnx::AttributeProto::INTS},
      {"starts", onnx::AttributeProto::INTS},  // Slice before opset 10
      {"ends", onnx::AttributeProto::INTS},
      {"start", onnx::AttributeProto::INT},  // Shape from opset 15
      {"end", onnx::AttributeProto::INT},
  };
  return *table;
}

// Attribute names mean different things on Constant / ConstantOfShape.
bool ChecksAttributes(const std::string& op) {
  return op != "Constant" && op != "ConstantOfShape";
}

absl::Status CheckAttribute(const onnx::AttributeProto& a) {
  const auto it = AttributeTypes().find(a.name());
  if (it == AttributeTypes().end()) return absl::OkStatus();
  if (a.type() != it->second) {
    return absl::InvalidArgumentError(absl::StrCat(
        "attribute '", a.name(), "' has type ", onnx::AttributeProto::AttributeType_Name(a.type()),
        ", want ", onnx::AttributeProto::AttributeType_Name(it->second)));
  }
  if (a.type() == onnx::AttributeProto::FLOAT && !std::isfinite(a.f())) {
    return absl::InvalidArgumentError(absl::StrCat("attribute '", a.name(), "' is ", a.f()));
  }
  for (float f : a.floats()) {
    if (!std::isfinite(f)) {
      return absl::InvalidArgumentError(absl::StrCat("attribute '", a.name(), "' holds ", f));
    }
  }
  // Sizes and flags: anything beyond 2^24 is a corrupt file, not a model.
  if (a.type() == onnx::AttributeProto::INT && (a.i() < -(1 << 24) || a.i() > (1 << 24))) {
    return absl::InvalidArgumentError(
        absl::StrCat("attribute '", a.name(), "' is ", a.i(), ", outside [-2^24, 2^24]"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckNode(const onnx::NodeProto& node) {
  // Recurrent nodes may leave Y unnamed and produce only Y_h.
  const bool recurrent =
      node.op_type() == "LSTM" || node.op_type() == "GRU" || node.op_type() == "RNN";
  const bool any_output = std::any_of(node.output().begin(), node.output().end(),
                                      [](const std::string& o) { return !o.empty(); });
  if (!any_output || (!recurrent && node.output(0).empty())) {
    return absl::InvalidArgumentError("has no output");
  }
  const int need = MinInputs(node.op_type());
  int present = 0;
  for (int i = 0; i < node.input_size() && i < need; ++i) present += !node.input(i).empty();
  if (present < need) {
    return absl::InvalidArgumentError(
        absl::StrCat("has ", present, " of the ", need, " inputs it needs"));
  }
  if (!ChecksAttributes(node.op_type())) return absl::OkStatus();
  for (const onnx::AttributeProto& a : node.attribute()) {
    absl::Status status = CheckAttribute(a);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace rnnserve::model
