// A model's fingerprint: SHA-256 over the files that define it (config and
// weights), so two servers agree that a session state exported by one fits
// the model loaded by the other. Stable across processes and machines.
#ifndef RNNSERVE_MODEL_IMPORTERS_FINGERPRINT_H_
#define RNNSERVE_MODEL_IMPORTERS_FINGERPRINT_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace rnnserve::model {

// One file of a model: its name within the model folder and its bytes.
struct NamedBytes {
  absl::string_view name;
  absl::string_view bytes;
};

// "sha256:" + 64 lowercase hex digits over every part's name, size and bytes,
// in the order given (so renaming or re-splitting files changes it).
std::string Fingerprint(absl::Span<const NamedBytes> parts);

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_IMPORTERS_FINGERPRINT_H_
