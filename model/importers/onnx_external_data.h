// ONNX external data: tensors whose bytes live in a file beside model.onnx
// (onnx.save_model(save_as_external_data=True), torch.onnx.export past 2 GB,
// ONNX tooling that writes model.onnx + model.onnx.data). Read into the
// tensors themselves, so the importer sees every weight inline.
#ifndef RNNSERVE_MODEL_IMPORTERS_ONNX_EXTERNAL_DATA_H_
#define RNNSERVE_MODEL_IMPORTERS_ONNX_EXTERNAL_DATA_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "onnx/onnx_pb.h"

namespace rnnserve::model {

// The data files an import read, by location (sorted): they define the
// model as much as model.onnx does, so they go into its fingerprint.
using ExternalDataFiles = std::map<std::string, std::string>;

// Reads the external data of every initializer and Constant-node tensor of
// `model`'s graph from `folder` (model.onnx's) into the tensor's raw_data.
// A location must be a relative path inside `folder` (no "..", not
// absolute); `offset` and `length` (ONNX's keys; length defaults to the rest
// of the file) must lie within it. INVALID_ARGUMENT naming the tensor
// otherwise, NOT_FOUND for a missing file; the data's size against the
// tensor's shape is checked where it is converted (ConvertTensor).
absl::Status InlineExternalData(onnx::ModelProto& model, const std::string& folder,
                                ExternalDataFiles& files);

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_IMPORTERS_ONNX_EXTERNAL_DATA_H_
