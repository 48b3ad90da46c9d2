// Where and why text is not JSON, as nlohmann's parser says it, without
// exceptions: one helper for every JSON reader (the safetensors header, the
// Open Inference Protocol's REST requests).
#ifndef RNNSERVE_MODEL_IMPORTERS_JSON_SYNTAX_ERROR_H_
#define RNNSERVE_MODEL_IMPORTERS_JSON_SYNTAX_ERROR_H_

#include <string>

#include "absl/strings/string_view.h"

namespace rnnserve::model {

// "parse error at line 1, column 9: ..." (at most 200 characters) for text
// that failed to parse; "unknown syntax error" for text that parses.
std::string JsonSyntaxError(absl::string_view text);

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_IMPORTERS_JSON_SYNTAX_ERROR_H_
