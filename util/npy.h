// NumPy .npy files (format versions 1.0, 2.0 and 3.0): reading the arrays
// tests and tools exchange with PyTorch/NumPy, and writing float32 outputs.
//
// A file is the magic "\x93NUMPY", a major and a minor version byte, a
// little-endian header length (u16 in 1.0, u32 in 2.0 and 3.0), a Python dict
// literal {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } padded
// with spaces and a newline, then the raw C-order data.
#ifndef RNNSERVE_UTIL_NPY_H_
#define RNNSERVE_UTIL_NPY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rnnserve::util {

// An array read from .npy: floats converted to float32, integers to int64.
// A plain value in C order.
struct NpyArray {
  enum class Kind { kFloat, kInteger };
  Kind kind = Kind::kFloat;
  std::vector<int64_t> shape;
  std::vector<float> floats;      // when kind == kFloat
  std::vector<int64_t> integers;  // when kind == kInteger
};

// NOT_FOUND if `path` does not exist; otherwise as ParseNpy().
absl::StatusOr<NpyArray> ReadNpy(const std::string& path);

// Little-endian descrs <f2 <f4 <f8 |i1 <i2 <i4 <i8 |u1 <u2 <u4 <u8 are
// accepted. INVALID_ARGUMENT naming `source` (a path, for messages) for
// anything else: big-endian, Fortran order, bool, object or structured
// dtypes, a <u8 value above 2^63 - 1, a <f8 value outside float32 range, a
// malformed header, or data that is not exactly product(shape) * itemsize.
absl::StatusOr<NpyArray> ParseNpy(absl::string_view bytes, absl::string_view source);

// Writes a float32 C-order array (version 1.0 header, padded to 64 bytes as
// NumPy does). INVALID_ARGUMENT for a negative dim, or a null `data` when the
// shape has elements; the errno's code if the file cannot be written.
absl::Status WriteNpy(const std::string& path, const std::vector<int64_t>& shape,
                      const float* data);

// The bytes WriteNpy() writes. REQUIRES: every dim >= 0, and `data` holds
// product(shape) floats.
std::string SerializeNpy(const std::vector<int64_t>& shape, const float* data);

}  // namespace rnnserve::util

#endif  // RNNSERVE_UTIL_NPY_H_
