// Structural checks on one ONNX node before the importer reads it: enough
// inputs and outputs for its op, and every attribute the importer reads of
// the type and range the specification gives it, so a malformed file is an
// error rather than a crash or a silently different default.
#ifndef RNNSERVE_MODEL_IMPORTERS_ONNX_NODE_CHECKS_H_
#define RNNSERVE_MODEL_IMPORTERS_ONNX_NODE_CHECKS_H_

#include "absl/status/status.h"
#include "model/importers/onnx_reader.h"

namespace rnnserve::model {

// INVALID_ARGUMENT (without the node's name: the caller adds it) for a node
// with too few inputs or no output, or an attribute of the wrong type, a
// non-finite float, or an integer outside what the importer supports.
absl::Status CheckNode(const onnx::NodeProto& node);

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_IMPORTERS_ONNX_NODE_CHECKS_H_
