// What the fuzz targets share: a view of libFuzzer's input, and the check
// that a model the loaders accepted can also be run.
#ifndef RNNSERVE_FUZZ_FUZZ_UTIL_H_
#define RNNSERVE_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "model/engine/layer_stack.h"

namespace rnnserve::fuzz {

inline absl::string_view Bytes(const uint8_t* data, size_t size) {
  return absl::string_view(reinterpret_cast<const char*>(data), size);
}

// Aborts (a finding) unless `status` is INVALID_ARGUMENT: the loaders'
// contract for malformed bytes. NOT_FOUND and the like would mean a parser
// went looking for files or reported the wrong kind of problem.
void CheckRefused(const absl::Status& status);

// A model the loader accepted must run: a whole sequence of three steps of
// zeros (token 0), and, when streamable(), a chunk and a single step from
// InitState(). Every call must succeed; a crash, a sanitizer report or an
// error here is a finding.
void CheckRuns(const model::LayerStack& stack);

}  // namespace rnnserve::fuzz

#endif  // RNNSERVE_FUZZ_FUZZ_UTIL_H_
