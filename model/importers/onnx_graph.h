// Imports an ONNX model (Debian's libonnx_proto schema) into a LayerStack:
// the ONNX LSTM, GRU and RNN operators with every attribute of their
// specification, and the graphs torch.onnx.export writes around them
// (Gather embedding, Gemm or MatMul+Add head, Softmax / Sigmoid, and the
// Transpose / Squeeze / Unsqueeze / Reshape / Slice / Shape glue). Every
// tensor on the path from input to output is tracked by what its axes mean
// (time, unit batch, direction, features), so glue is accepted only when it
// provably keeps the meaning; anything else is refused naming the node and op.
#ifndef RNNSERVE_MODEL_IMPORTERS_ONNX_GRAPH_H_
#define RNNSERVE_MODEL_IMPORTERS_ONNX_GRAPH_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/engine/layer_stack.h"

namespace rnnserve::model {

struct OnnxModel;  // model/importers/onnx_reader.h

struct OnnxImport {
  LayerStack stack;
  int64_t parameter_count = 0;
  std::string summary;  // e.g. "2 x LSTM (ai.onnx opset 14)"
  std::string cell;     // "lstm", "gru", "rnn"
  int num_layers = 0;
  int hidden_size = 0;
  bool bidirectional = false;
};

// `bytes` is a serialized ModelProto; `source` names it in messages.
// INVALID_ARGUMENT for a file that is not ONNX, an unsupported opset, domain,
// op or graph shape, a missing initializer or a shape mismatch.
absl::StatusOr<OnnxImport> ImportOnnxModel(absl::string_view bytes, absl::string_view source);
// The same for a model already parsed (ParseOnnxModel), for instance with its
// external data read in (InlineExternalData); data still external is refused.
absl::StatusOr<OnnxImport> ImportOnnxModel(const OnnxModel& model, absl::string_view source);

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_IMPORTERS_ONNX_GRAPH_H_
