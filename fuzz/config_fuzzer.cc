// libFuzzer target: model::ParseModelConfig on any text. Each input ends in
// a config or INVALID_ARGUMENT; an accepted config holds only values the
// weight converter and the cells can build from (sizes >= 1, proj_size below
// hidden_size, finite clip and forget_bias).
#include <cmath>

#include "fuzz/fuzz_util.h"
#include "glog/logging.h"
#include "model/importers/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<rnnserve::model::ModelConfig> config =
      rnnserve::model::ParseModelConfig(rnnserve::fuzz::Bytes(data, size));
  if (!config.ok()) {
    rnnserve::fuzz::CheckRefused(config.status());
    return 0;
  }
  CHECK_GE(config->input_size, 1);
  CHECK_GE(config->hidden_size, 1);
  CHECK_GE(config->num_layers, 1);
  CHECK_GE(config->proj_size, 0);
  CHECK_LT(config->proj_size, config->hidden_size);
  CHECK(std::isfinite(config->clip) && config->clip >= 0) << config->clip;
  CHECK(std::isfinite(config->forget_bias)) << config->forget_bias;
  if (config->embedding.has_value()) {
    CHECK_GE(config->embedding->num_embeddings, 1);
    CHECK_EQ(config->embedding->embedding_dim, config->input_size);
  }
  if (config->head.has_value()) CHECK_GE(config->head->out_features, 1);
  return 0;
}
