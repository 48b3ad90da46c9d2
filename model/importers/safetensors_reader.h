// Reads safetensors weight files (DESIGN.md section 3) into float32 tensors,
// checking every byte of the header against the data before trusting it.
#ifndef RNNSERVE_MODEL_IMPORTERS_SAFETENSORS_READER_H_
#define RNNSERVE_MODEL_IMPORTERS_SAFETENSORS_READER_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/engine/tensor.h"

namespace rnnserve::model {

// A parsed safetensors file: every tensor converted to float32. A value that
// owns its tensors; a loader Take()s them one by one and then reports what
// RemainingNames() still holds as unexpected. Not thread-safe to mutate;
// const access may be shared.
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON header
// (an object; trailing spaces allowed; an optional "__metadata__" string map),
// then the data section. Each header entry is {"dtype", "shape",
// "data_offsets": [begin, end]} relative to the data section, in any order.
// Dtypes F32, F16, BF16 and F64 are accepted; NaN or infinite weights are
// refused, as is anything that does not add up: a malformed file is
// INVALID_ARGUMENT naming the file, the tensor and what was expected.
class SafetensorsFile {
 public:
  // NOT_FOUND if `path` does not exist; otherwise as Parse().
  static absl::StatusOr<SafetensorsFile> Read(const std::string& path);
  // `source` names the bytes in messages (a path).
  static absl::StatusOr<SafetensorsFile> Parse(absl::string_view bytes,
                                               absl::string_view source);

  const absl::flat_hash_map<std::string, Tensor>& tensors() const {
    return tensors_;
  }
  // The "__metadata__" entry; empty when the file has none.
  const absl::flat_hash_map<std::string, std::string>& metadata() const {
    return metadata_;
  }

  // Removes and returns tensor `name`; NOT_FOUND naming it if absent.
  absl::StatusOr<Tensor> Take(const std::string& name);
  // Names not yet taken, sorted.
  std::vector<std::string> RemainingNames() const;

 private:
  explicit SafetensorsFile(std::string source) : source_(std::move(source)) {}

  std::string source_;
  absl::flat_hash_map<std::string, Tensor> tensors_;
  absl::flat_hash_map<std::string, std::string> metadata_;
};

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_IMPORTERS_SAFETENSORS_READER_H_
