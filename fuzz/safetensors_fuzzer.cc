// libFuzzer target: model::SafetensorsFile::Parse on any bytes. Each input
// ends in a file or INVALID_ARGUMENT; every tensor of an accepted file holds
// product(shape) finite floats, and Take() hands each out exactly once.
#include <cmath>

#include "fuzz/fuzz_util.h"
#include "glog/logging.h"
#include "model/importers/safetensors_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using rnnserve::model::SafetensorsFile;
  absl::StatusOr<SafetensorsFile> file =
      SafetensorsFile::Parse(rnnserve::fuzz::Bytes(data, size), "fuzz.safetensors");
  if (!file.ok()) {
    rnnserve::fuzz::CheckRefused(file.status());
    return 0;
  }
  for (const std::string& name : file->RemainingNames()) {
    absl::StatusOr<rnnserve::model::Tensor> tensor = file->Take(name);
    CHECK(tensor.ok()) << tensor.status();
    uint64_t count = 1;
    for (int64_t dim : tensor->shape) {
      CHECK_GE(dim, 0);
      count = dim == 0 ? 0 : count * static_cast<uint64_t>(dim);
    }
    CHECK_EQ(tensor->values.size(), count) << name;
    for (float v : tensor->values) CHECK(std::isfinite(v)) << name;
    CHECK(!file->Take(name).ok()) << name << " taken twice";
  }
  CHECK(file->tensors().empty());
  return 0;
}
