// A small, self-contained reader of NumPy .npy files for `stream --input`
// (client/ may not link model/, which has the server's own reader). Format
// versions 1.0 to 3.0, C order, little-endian or byte-order-free dtypes:
// float16/32/64 and (unsigned) integers of 1 to 8 bytes. Fortran order and
// big-endian data are refused, never silently transposed or swapped.
#ifndef RNNSERVE_CLIENT_NPY_READER_H_
#define RNNSERVE_CLIENT_NPY_READER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rnnserve::client {

struct NpyArray {
  std::vector<int64_t> shape;  // () for a scalar
  bool integer = false;        // which of the two vectors holds the data
  std::vector<double> floats;  // row-major, when !integer
  std::vector<int64_t> ints;   // row-major, when integer
  int64_t size() const;        // the product of shape
};

// INVALID_ARGUMENT naming `name` and the problem for a malformed file.
absl::StatusOr<NpyArray> ParseNpy(absl::string_view bytes, absl::string_view name);
// ParseNpy of the file at `path`; NOT_FOUND when it cannot be read.
absl::StatusOr<NpyArray> ReadNpy(const std::string& path);

}  // namespace rnnserve::client

#endif  // RNNSERVE_CLIENT_NPY_READER_H_
