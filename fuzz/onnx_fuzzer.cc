// libFuzzer target: model::LoadOnnxModel (the ONNX importer behind
// LoadModel) on any bytes. Each input ends in a model or INVALID_ARGUMENT,
// and an accepted model runs (CheckRuns).
#include "fuzz/fuzz_util.h"
#include "model/importers/model_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<rnnserve::model::LoadedModel> model =
      rnnserve::model::LoadOnnxModel(rnnserve::fuzz::Bytes(data, size), "fuzz");
  if (!model.ok()) {
    rnnserve::fuzz::CheckRefused(model.status());
    return 0;
  }
  rnnserve::fuzz::CheckRuns(*model->stack);
  return 0;
}
