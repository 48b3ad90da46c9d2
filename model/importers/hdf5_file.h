// Read-only access to an HDF5 file held in memory (the Keras .h5 formats,
// ../shared/KERAS_FORMATS.md), through Debian's libhdf5 C API: string
// attributes in every form Keras writes them, group members, float datasets.
// Every size read is bounded before memory is allocated for it. libhdf5 is
// not built thread-safe on Debian, so every call into it, across all
// instances, is serialised by one process-wide lock; an instance is otherwise
// safe to share for reading.
#ifndef RNNSERVE_MODEL_IMPORTERS_HDF5_FILE_H_
#define RNNSERVE_MODEL_IMPORTERS_HDF5_FILE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/engine/tensor.h"

namespace rnnserve::model {

// The 8 bytes every HDF5 file starts with (at offset 0 for Keras' files).
inline constexpr absl::string_view kHdf5Magic("\x89HDF\r\n\x1a\n", 8);

class Hdf5File {
 public:
  // Bounds on what one read may allocate.
  static constexpr int64_t kMaxDatasetElements = int64_t{1} << 28;
  static constexpr int64_t kMaxAttributeBytes = int64_t{64} << 20;
  static constexpr int64_t kMaxGroupMembers = int64_t{1} << 16;

  // Opens a copy of `bytes`. `source` names the file in every message.
  // INVALID_ARGUMENT when the bytes are not an HDF5 file libhdf5 can open.
  static absl::StatusOr<Hdf5File> Open(absl::string_view bytes, std::string source);

  Hdf5File(Hdf5File&& other) noexcept;
  Hdf5File& operator=(Hdf5File&& other) noexcept;
  Hdf5File(const Hdf5File&) = delete;
  Hdf5File& operator=(const Hdf5File&) = delete;
  ~Hdf5File();

  const std::string& source() const { return source_; }

  // True if every component of the slash-separated `path` exists (a group or
  // a dataset). "/" always exists.
  bool Exists(absl::string_view path) const;
  bool HasAttribute(absl::string_view object, absl::string_view name) const;

  // The names of group `path`'s members in name order. INVALID_ARGUMENT when
  // `path` is not a group.
  absl::StatusOr<std::vector<std::string>> Members(absl::string_view path) const;

  // A scalar (or one-element) string attribute, fixed or variable length,
  // ASCII or UTF-8; nullopt when `object` has no attribute `name`.
  absl::StatusOr<std::optional<std::string>> StringAttribute(absl::string_view object,
                                                             absl::string_view name) const;
  // A one-dimensional string array attribute (Keras' layer_names,
  // weight_names): fixed-length NULLPAD or variable length. Keras writes an
  // empty list as a float64 array of shape (0,), read here as no strings.
  // INVALID_ARGUMENT when absent or of another type.
  absl::StatusOr<std::vector<std::string>> StringListAttribute(absl::string_view object,
                                                               absl::string_view name) const;

  // A floating-point dataset converted to float32, with its shape (a scalar
  // has shape []). INVALID_ARGUMENT when absent, not floating point, larger
  // than kMaxDatasetElements, never written, or when its storage holds more
  // bytes than the file has or, unless it is filtered (compressed), fewer
  // than its shape needs (checked before anything is allocated).
  absl::StatusOr<Tensor> ReadFloats(absl::string_view path) const;

 private:
  Hdf5File(int64_t file_id, int64_t file_size, std::string source)
      : file_id_(file_id), file_size_(file_size), source_(std::move(source)) {}
  enum class StringShape { kSingle, kList };
  // The strings of attribute `name` of `object` (the one reader behind
  // StringAttribute and StringListAttribute); nullopt when it is absent.
  absl::StatusOr<std::optional<std::vector<std::string>>> ReadStringAttribute(
      absl::string_view object, absl::string_view name, StringShape shape) const;
  absl::Status Error(absl::string_view path, absl::string_view problem) const;

  int64_t file_id_ = -1;  // hid_t; -1 once moved from
  int64_t file_size_ = 0;  // bytes: no dataset holds more
  std::string source_;
};

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_IMPORTERS_HDF5_FILE_H_
