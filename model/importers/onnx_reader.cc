#include "model/importers/onnx_reader.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "util/byte_order.h"
#include "util/half_float.h"
#include "util/status_macros.h"

namespace rnnserve::model {
namespace {

absl::Status TensorError(const onnx::TensorProto& tensor, absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("ONNX tensor '", tensor.name(), "': ", problem));
}

// Bytes per element of the raw_data encoding, 0 for unsupported types.
int RawElementSize(int data_type) {
  switch (data_type) {
    case onnx::TensorProto::FLOAT:
    case onnx::TensorProto::INT32:
      return 4;
    case onnx::TensorProto::DOUBLE:
    case onnx::TensorProto::INT64:
      return 8;
    case onnx::TensorProto::FLOAT16:
    case onnx::TensorProto::BFLOAT16:
      return 2;
    default:
      return 0;
  }
}

// Narrowing a finite double beyond float's range is undefined behaviour;
// infinity instead, which ConvertTensor() then refuses.
float NarrowDouble(double value) {
  if (std::isfinite(value) && std::fabs(value) > std::numeric_limits<float>::max()) {
    return std::copysign(std::numeric_limits<float>::infinity(), value);
  }
  return static_cast<float>(value);
}

// Constant nodes' value_float(s) skip ConvertTensor(), so they are checked
// here the same way: a NaN bias must not load.
absl::Status CheckFinite(const onnx::NodeProto& node, const std::vector<float>& values) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          DescribeNode(node), ": value ", i, " is ", values[i], "; weights must be finite"));
    }
  }
  return absl::OkStatus();
}

void DecodeRaw(int data_type, const char* p, int64_t count, OnnxConstant& out) {
  for (int64_t i = 0; i < count; ++i) {
    switch (data_type) {
      case onnx::TensorProto::FLOAT: {
        const uint32_t bits = util::LoadU32(p + 4 * i);
        float value;
        std::memcpy(&value, &bits, 4);
        out.floats.push_back(value);
        break;
      }
      case onnx::TensorProto::DOUBLE: {
        const uint64_t bits = util::LoadU64(p + 8 * i);
        double value;
        std::memcpy(&value, &bits, 8);
        out.floats.push_back(NarrowDouble(value));
        break;
      }
      case onnx::TensorProto::FLOAT16:
        out.floats.push_back(util::HalfToFloat(util::LoadU16(p + 2 * i)));
        break;
      case onnx::TensorProto::BFLOAT16:
        out.floats.push_back(util::BFloat16ToFloat(util::LoadU16(p + 2 * i)));
        break;
      case onnx::TensorProto::INT32:
        out.ints.push_back(static_cast<int32_t>(util::LoadU32(p + 4 * i)));
        break;
      case onnx::TensorProto::INT64:
        out.ints.push_back(static_cast<int64_t>(util::LoadU64(p + 8 * i)));
        break;
    }
  }
}

// The typed repeated fields, used when raw_data is absent.
void DecodeTyped(const onnx::TensorProto& t, OnnxConstant& out) {
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
      out.floats.assign(t.float_data().begin(), t.float_data().end());
      break;
    case onnx::TensorProto::DOUBLE:
      for (double v : t.double_data()) out.floats.push_back(NarrowDouble(v));
      break;
    case onnx::TensorProto::FLOAT16:  // The 16 bits ride in int32_data.
      for (int32_t v : t.int32_data()) out.floats.push_back(util::HalfToFloat(v & 0xffff));
      break;
    case onnx::TensorProto::BFLOAT16:
      for (int32_t v : t.int32_data()) out.floats.push_back(util::BFloat16ToFloat(v & 0xffff));
      break;
    case onnx::TensorProto::INT32:
      out.ints.assign(t.int32_data().begin(), t.int32_data().end());
      break;
    case onnx::TensorProto::INT64:
      out.ints.assign(t.int64_data().begin(), t.int64_data().end());
      break;
  }
}

}  // namespace

absl::StatusOr<OnnxModel> ParseOnnxModel(absl::string_view bytes) {
  OnnxModel model;
  if (bytes.size() > static_cast<size_t>(INT32_MAX) ||
      !model.proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError(
        "not an ONNX model: the file does not parse as an ONNX ModelProto "
        "(truncated or another format)");
  }
  if (!model.proto.has_graph() || model.proto.graph().node_size() == 0) {
    return absl::InvalidArgumentError("not an ONNX model: it has no graph nodes");
  }
  for (const onnx::OperatorSetIdProto& opset : model.proto.opset_import()) {
    if (opset.domain().empty() || opset.domain() == "ai.onnx") model.opset = opset.version();
  }
  if (model.opset < kMinOnnxOpset || model.opset > kMaxOnnxOpset) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ONNX model imports ai.onnx opset ", model.opset, "; supported: ", kMinOnnxOpset,
        " to ", kMaxOnnxOpset, " (re-export with opset_version=14)"));
  }
  return model;
}

absl::StatusOr<OnnxConstant> ConvertTensor(const onnx::TensorProto& tensor) {
  if (tensor.data_location() == onnx::TensorProto::EXTERNAL) {
    return TensorError(tensor,
                       "weights stored in external data files are read only when "
                       "model.onnx is loaded from its folder, beside them");
  }
  const int type = tensor.data_type();
  if (RawElementSize(type) == 0) {
    return TensorError(tensor, absl::StrCat("data type ", type, " is not supported; want "
                                            "float, double, float16, bfloat16, int32, int64"));
  }
  OnnxConstant out;
  int64_t count = 1;
  for (int64_t d : tensor.dims()) {
    if (d < 0 || (d > 0 && count > (int64_t{1} << 40) / d)) {
      return TensorError(tensor, "has a negative or absurd dimension");
    }
    out.shape.push_back(d);
    count *= d;
  }
  out.is_float = type != onnx::TensorProto::INT32 && type != onnx::TensorProto::INT64;
  if (tensor.has_raw_data()) {
    const int64_t want = count * RawElementSize(type);
    if (static_cast<int64_t>(tensor.raw_data().size()) != want) {
      return TensorError(tensor, absl::StrCat("raw data has ", tensor.raw_data().size(),
                                              " bytes, want ", want, " for its shape"));
    }
    DecodeRaw(type, tensor.raw_data().data(), count, out);
  } else {
    DecodeTyped(tensor, out);
  }
  if (out.size() != count) {
    return TensorError(tensor, absl::StrCat("holds ", out.size(), " values, want ", count,
                                            " for its shape"));
  }
  for (size_t i = 0; i < out.floats.size(); ++i) {
    if (!std::isfinite(out.floats[i])) {
      return TensorError(tensor, absl::StrCat("value ", i, " is ", out.floats[i],
                                              "; weights must be finite"));
    }
  }
  return out;
}

absl::StatusOr<absl::flat_hash_map<std::string, OnnxConstant>> CollectConstants(
    const onnx::GraphProto& graph) {
  absl::flat_hash_map<std::string, OnnxConstant> constants;
  for (const onnx::TensorProto& tensor : graph.initializer()) {
    RNN_ASSIGN_OR_RETURN(constants[tensor.name()], ConvertTensor(tensor));
  }
  for (const onnx::NodeProto& node : graph.node()) {
    if (node.op_type() != "Constant" || node.output_size() != 1) continue;
    for (const onnx::AttributeProto& a : node.attribute()) {
      OnnxConstant value;
      if (a.name() == "value" && a.has_t()) {
        RNN_ASSIGN_OR_RETURN(value, ConvertTensor(a.t()));
      } else if (a.name() == "value_float") {
        value.floats = {a.f()};
      } else if (a.name() == "value_floats") {
        value.floats.assign(a.floats().begin(), a.floats().end());
        value.shape = {static_cast<int64_t>(value.floats.size())};
      } else if (a.name() == "value_int" || a.name() == "value_ints") {
        value.is_float = false;
        if (a.name() == "value_int") value.ints = {a.i()};
        else value.ints.assign(a.ints().begin(), a.ints().end());
        if (a.name() == "value_ints") value.shape = {static_cast<int64_t>(value.ints.size())};
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            DescribeNode(node), ": Constant attribute '", a.name(), "' is not supported"));
      }
      RNN_RETURN_IF_ERROR(CheckFinite(node, value.floats));
      constants[node.output(0)] = std::move(value);
    }
  }
  return constants;
}

NodeAttributes::NodeAttributes(const onnx::NodeProto& node) : node_(node) {}

const onnx::AttributeProto* NodeAttributes::Find(absl::string_view name) const {
  for (const onnx::AttributeProto& a : node_.attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

bool NodeAttributes::Has(absl::string_view name) const { return Find(name) != nullptr; }

int64_t NodeAttributes::Int(absl::string_view name, int64_t fallback) const {
  const onnx::AttributeProto* a = Find(name);
  return a != nullptr ? a->i() : fallback;
}

float NodeAttributes::Float(absl::string_view name, float fallback) const {
  const onnx::AttributeProto* a = Find(name);
  return a != nullptr ? a->f() : fallback;
}

std::string NodeAttributes::String(absl::string_view name, absl::string_view fallback) const {
  const onnx::AttributeProto* a = Find(name);
  return a != nullptr ? a->s() : std::string(fallback);
}

std::vector<int64_t> NodeAttributes::Ints(absl::string_view name) const {
  const onnx::AttributeProto* a = Find(name);
  if (a == nullptr) return {};
  return std::vector<int64_t>(a->ints().begin(), a->ints().end());
}

std::vector<float> NodeAttributes::Floats(absl::string_view name) const {
  const onnx::AttributeProto* a = Find(name);
  if (a == nullptr) return {};
  return std::vector<float>(a->floats().begin(), a->floats().end());
}

std::vector<std::string> NodeAttributes::Strings(absl::string_view name) const {
  const onnx::AttributeProto* a = Find(name);
  if (a == nullptr) return {};
  return std::vector<std::string>(a->strings().begin(), a->strings().end());
}

std::string DescribeNode(const onnx::NodeProto& node) {
  const std::string& name =
      !node.name().empty() ? node.name() : (node.output_size() > 0 ? node.output(0) : "");
  return absl::StrCat("node '", name, "' (", node.op_type(), ")");
}

}  // namespace rnnserve::model
