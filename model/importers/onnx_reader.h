// Reading the pieces of an ONNX model the importer needs: the ModelProto
// itself (with its opset checked), constant tensors (initializers and
// Constant nodes) as float or integer arrays, and node attributes with their
// specification defaults. Uses Debian's libonnx_proto schema.
#ifndef RNNSERVE_MODEL_IMPORTERS_ONNX_READER_H_
#define RNNSERVE_MODEL_IMPORTERS_ONNX_READER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "onnx/onnx_pb.h"  // defines ONNX_API, then includes onnx-ml.pb.h

namespace rnnserve::model {

// The ai.onnx opsets whose LSTM/GRU/RNN semantics the importer implements.
inline constexpr int64_t kMinOnnxOpset = 7;
inline constexpr int64_t kMaxOnnxOpset = 22;

// A parsed model and the ai.onnx opset it imports.
struct OnnxModel {
  onnx::ModelProto proto;
  int64_t opset = 0;
};

// INVALID_ARGUMENT when `bytes` is not a ModelProto with a graph, or the
// ai.onnx opset is outside [kMinOnnxOpset, kMaxOnnxOpset].
absl::StatusOr<OnnxModel> ParseOnnxModel(absl::string_view bytes);

// A constant tensor, converted: floating types to float, integers to int64.
struct OnnxConstant {
  std::vector<int64_t> shape;
  bool is_float = true;
  std::vector<float> floats;
  std::vector<int64_t> ints;

  int64_t size() const { return is_float ? floats.size() : ints.size(); }
};

// INVALID_ARGUMENT for external data, unsupported types, or a data length
// that does not match the shape; names the tensor.
absl::StatusOr<OnnxConstant> ConvertTensor(const onnx::TensorProto& tensor);

// Every initializer and Constant-node output of `graph`, by name.
absl::StatusOr<absl::flat_hash_map<std::string, OnnxConstant>> CollectConstants(
    const onnx::GraphProto& graph);

// A node's attributes with defaults, as the operator specifications give them.
class NodeAttributes {
 public:
  explicit NodeAttributes(const onnx::NodeProto& node);

  int64_t Int(absl::string_view name, int64_t fallback) const;
  float Float(absl::string_view name, float fallback) const;
  std::string String(absl::string_view name, absl::string_view fallback) const;
  std::vector<int64_t> Ints(absl::string_view name) const;
  std::vector<float> Floats(absl::string_view name) const;
  std::vector<std::string> Strings(absl::string_view name) const;
  bool Has(absl::string_view name) const;

 private:
  const onnx::AttributeProto* Find(absl::string_view name) const;
  const onnx::NodeProto& node_;
};

// "node 'name' (LSTM)" for messages; the first output names unnamed nodes.
std::string DescribeNode(const onnx::NodeProto& node);

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_IMPORTERS_ONNX_READER_H_
