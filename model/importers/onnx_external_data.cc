#include "model/importers/onnx_external_data.h"

#include <cstdint>
#include <filesystem>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "util/file.h"
#include "util/status_macros.h"

namespace rnnserve::model {
namespace {

namespace fs = std::filesystem;

absl::Status TensorError(const onnx::TensorProto& tensor, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("tensor '", tensor.name(), "': external data ", what));
}

// `location` as a path inside `folder`, or why it is not one: the data of a
// model may not name files elsewhere on the server.
absl::StatusOr<std::string> PathInside(const std::string& folder, const std::string& location,
                                       const onnx::TensorProto& tensor) {
  const fs::path relative = fs::path(location).lexically_normal();
  if (location.empty() || relative.is_absolute() || relative.empty() || *relative.begin() == "..") {
    return TensorError(tensor, absl::StrCat("location \"", location,
                                            "\" is not a relative path inside the model's "
                                            "folder"));
  }
  return (fs::path(folder) / relative).string();
}

absl::StatusOr<int64_t> NonNegative(const onnx::TensorProto& tensor, const std::string& key,
                                    const std::string& value) {
  int64_t number = 0;
  if (!absl::SimpleAtoi(value, &number) || number < 0) {
    return TensorError(tensor, absl::StrCat(key, " \"", value, "\" is not a byte count"));
  }
  return number;
}

absl::Status Inline(onnx::TensorProto& tensor, const std::string& folder,
                    ExternalDataFiles& files) {
  std::string location;
  int64_t offset = 0;
  int64_t length = -1;  // the rest of the file
  for (const onnx::StringStringEntryProto& entry : tensor.external_data()) {
    if (entry.key() == "location") {
      location = entry.value();
    } else if (entry.key() == "offset") {
      RNN_ASSIGN_OR_RETURN(offset, NonNegative(tensor, entry.key(), entry.value()));
    } else if (entry.key() == "length") {
      RNN_ASSIGN_OR_RETURN(length, NonNegative(tensor, entry.key(), entry.value()));
    }  // "checksum" and others: not needed to read the bytes.
  }
  RNN_ASSIGN_OR_RETURN(const std::string path, PathInside(folder, location, tensor));
  auto file = files.find(location);
  if (file == files.end()) {
    absl::StatusOr<std::string> bytes = util::ReadFileToString(path);
    if (!bytes.ok()) {
      return absl::Status(bytes.status().code(),
                          absl::StrCat("tensor '", tensor.name(), "': external data file ",
                                       location, ": ", bytes.status().message()));
    }
    file = files.emplace(location, *std::move(bytes)).first;
  }
  const int64_t size = static_cast<int64_t>(file->second.size());
  if (offset > size || (length >= 0 && length > size - offset)) {
    return TensorError(
        tensor,
        absl::StrCat("bytes [", offset, ", ", length >= 0 ? absl::StrCat(offset + length) : "end",
                     ") lie past the end of ", location, " (", size, " bytes)"));
  }
  tensor.set_raw_data(file->second.substr(offset, length >= 0 ? length : size - offset));
  tensor.clear_external_data();
  tensor.set_data_location(onnx::TensorProto::DEFAULT);
  return absl::OkStatus();
}

}  // namespace

absl::Status InlineExternalData(onnx::ModelProto& model, const std::string& folder,
                                ExternalDataFiles& files) {
  onnx::GraphProto& graph = *model.mutable_graph();
  for (onnx::TensorProto& tensor : *graph.mutable_initializer()) {
    if (tensor.data_location() == onnx::TensorProto::EXTERNAL) {
      RNN_RETURN_IF_ERROR(Inline(tensor, folder, files));
    }
  }
  for (onnx::NodeProto& node : *graph.mutable_node()) {
    for (onnx::AttributeProto& attribute : *node.mutable_attribute()) {
      if (attribute.has_t() && attribute.t().data_location() == onnx::TensorProto::EXTERNAL) {
        RNN_RETURN_IF_ERROR(Inline(*attribute.mutable_t(), folder, files));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace rnnserve::model
