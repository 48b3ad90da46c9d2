// libFuzzer target: the Keras loaders on any bytes. An input starting with
// '{' is a TF.js model.json up to the first NUL, and what follows is the
// concatenation of the shards it names: the first shard read returns all of
// it, the others nothing (model::ImportTfjsModel); any other input is a Keras file
// (model::LoadKerasModel: the magic decides, libhdf5 for legacy .h5, libzip
// then libhdf5 for .keras, and the config JSON inside either). Each input
// ends in a model or INVALID_ARGUMENT, and an accepted model runs
// (CheckRuns). Seeds: tests/testdata/keras and keras_bad
// (fuzz/make_seed_corpus.sh). libhdf5 is not hardened against hostile files;
// a finding inside it is worth reporting upstream.
#include <utility>

#include "fuzz/fuzz_util.h"
#include "model/importers/model_loader.h"
#include "model/importers/tfjs_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes = rnnserve::fuzz::Bytes(data, size);
  if (!bytes.empty() && bytes[0] == '{') {
    const size_t split = std::min(bytes.find('\0'), bytes.size());
    std::string shard(bytes.substr(std::min(split + 1, bytes.size())));
    absl::StatusOr<rnnserve::model::KerasImport> model = rnnserve::model::ImportTfjsModel(
        bytes.substr(0, split),
        [&](const std::string&, int64_t max_bytes) -> absl::StatusOr<std::string> {
          if (static_cast<int64_t>(shard.size()) > max_bytes) {
            return absl::InvalidArgumentError("shard too large");
          }
          return std::exchange(shard, std::string());
        },
        "fuzz/model.json");
    if (!model.ok()) {
      rnnserve::fuzz::CheckRefused(model.status());
      return 0;
    }
    rnnserve::fuzz::CheckRuns(model->stack);
    return 0;
  }
  absl::StatusOr<rnnserve::model::LoadedModel> model =
      rnnserve::model::LoadKerasModel(bytes, "fuzz.keras");
  if (!model.ok()) {
    rnnserve::fuzz::CheckRefused(model.status());
    return 0;
  }
  rnnserve::fuzz::CheckRuns(*model->stack);
  return 0;
}
