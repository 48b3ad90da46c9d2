// The header of a .npy file: a Python dict literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } padded with
// spaces and a newline. util/npy.h reads the file around it.
#ifndef RNNSERVE_UTIL_NPY_HEADER_H_
#define RNNSERVE_UTIL_NPY_HEADER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rnnserve::util {

// What a header dict says, checked. A plain value.
struct NpyHeader {
  // The dtype string as written, e.g. "<f4"; not yet checked against the
  // dtypes the reader supports.
  std::string descr;
  // Every dim >= 0; empty for a scalar.
  std::vector<int64_t> shape;
};

// Parses the header text (the bytes between the preamble and the data). The
// grammar is the subset of Python literals NumPy writes: strings, ints (also
// Python 2's 3L), True, False, None, tuples, lists and dicts, nested at most
// 16 deep. The dict must hold exactly 'descr' (a string), 'fortran_order'
// (False: only C order is read) and 'shape' (a tuple of ints in int64 range,
// each >= 0). INVALID_ARGUMENT otherwise, with a message the caller prefixes
// with the file's name, e.g. "'shape'[1] is -4; want >= 0".
absl::StatusOr<NpyHeader> ParseNpyHeader(absl::string_view text);

// `text` for a message: printable ASCII kept, every other byte as \xNN.
std::string Printable(absl::string_view text);

}  // namespace rnnserve::util

#endif  // RNNSERVE_UTIL_NPY_HEADER_H_
