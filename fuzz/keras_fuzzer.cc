// libFuzzer target: model::LoadKerasModel on any bytes, the path a Keras file
// takes (the magic decides: libhdf5 for legacy .h5, libzip then libhdf5 for
// .keras, and the config JSON inside either). Each input ends in a model or
// INVALID_ARGUMENT, and an accepted model runs (CheckRuns). Seeds: the
// fixtures of tests/testdata/keras and keras_bad (fuzz/make_seed_corpus.sh).
// libhdf5 is not hardened against hostile files: a finding inside it is
// reported upstream and the input refused before libhdf5 sees it if we can.
#include "fuzz/fuzz_util.h"
#include "model/importers/model_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<rnnserve::model::LoadedModel> model =
      rnnserve::model::LoadKerasModel(rnnserve::fuzz::Bytes(data, size), "fuzz.keras");
  if (!model.ok()) {
    rnnserve::fuzz::CheckRefused(model.status());
    return 0;
  }
  rnnserve::fuzz::CheckRuns(*model->stack);
  return 0;
}
