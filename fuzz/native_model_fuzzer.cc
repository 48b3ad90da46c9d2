// libFuzzer target: model::LoadNativeModel, the config and the weights
// together, which is where the weight converter meets both. The input is
// a 2-byte little-endian length n, n bytes of config.json, then the
// model.safetensors bytes (fuzz/make_seed_corpus.sh writes the fixtures so).
// Each input ends in a model or INVALID_ARGUMENT, and an accepted model runs
// (CheckRuns).
#include <algorithm>

#include "fuzz/fuzz_util.h"
#include "model/importers/model_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t config_size = std::min<size_t>(data[0] | data[1] << 8, size - 2);
  const absl::string_view config = rnnserve::fuzz::Bytes(data + 2, config_size);
  const absl::string_view weights =
      rnnserve::fuzz::Bytes(data + 2 + config_size, size - 2 - config_size);
  absl::StatusOr<rnnserve::model::LoadedModel> model =
      rnnserve::model::LoadNativeModel(config, weights, "fuzz");
  if (!model.ok()) {
    rnnserve::fuzz::CheckRefused(model.status());
    return 0;
  }
  rnnserve::fuzz::CheckRuns(*model->stack);
  return 0;
}
