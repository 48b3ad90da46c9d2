// Imports a TensorFlow.js layers model: model.json (format "layers-model":
// the Keras topology JSON as tensorflowjs_converter or tfjs-layers' own
// model.save() write it, and a weightsManifest) and the binary weight shards
// it names. The weights of each manifest group are the concatenation of its
// shards, read in manifest order (a weight may span two shards). Only float32
// weights are served; quantized ones are refused.
#ifndef RNNSERVE_MODEL_IMPORTERS_TFJS_MODEL_H_
#define RNNSERVE_MODEL_IMPORTERS_TFJS_MODEL_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/importers/keras_model.h"

namespace rnnserve::model {

// Returns the bytes of a shard named in the manifest (a plain file name in
// model.json's folder), or the reason it cannot. At most `max_bytes`.
using TfjsShardReader =
    std::function<absl::StatusOr<std::string>(const std::string& name, int64_t max_bytes)>;

// `source` names model.json in messages. INVALID_ARGUMENT for anything not
// served exactly (as ImportKerasModel()), a shard path that leaves the folder,
// a manifest whose byte count differs from its shards', or a weight no layer
// claims.
absl::StatusOr<KerasImport> ImportTfjsModel(absl::string_view model_json,
                                            const TfjsShardReader& read_shard,
                                            absl::string_view source);

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_IMPORTERS_TFJS_MODEL_H_
