// libFuzzer target: util::ParseNpy on any bytes. Each input ends in an
// array or INVALID_ARGUMENT; an array holds exactly product(shape) values,
// and a float array survives util::SerializeNpy -> util::ParseNpy bit for bit.
#include <cstring>

#include "fuzz/fuzz_util.h"
#include "glog/logging.h"
#include "util/npy.h"

namespace rnnserve::fuzz {
namespace {

void CheckRoundTrip(const util::NpyArray& array) {
  const std::string bytes = util::SerializeNpy(array.shape, array.floats.data());
  absl::StatusOr<util::NpyArray> again = util::ParseNpy(bytes, "round_trip.npy");
  CHECK(again.ok()) << again.status();
  CHECK(again->shape == array.shape);
  CHECK_EQ(again->floats.size(), array.floats.size());
  // Bits, not values: NaN != NaN, and -0 == 0.
  CHECK(array.floats.empty() || std::memcmp(again->floats.data(), array.floats.data(),
                                            array.floats.size() * sizeof(float)) == 0);
}

}  // namespace
}  // namespace rnnserve::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using rnnserve::util::NpyArray;
  absl::StatusOr<NpyArray> array =
      rnnserve::util::ParseNpy(rnnserve::fuzz::Bytes(data, size), "fuzz.npy");
  if (!array.ok()) {
    rnnserve::fuzz::CheckRefused(array.status());
    return 0;
  }
  uint64_t count = 1;
  for (int64_t dim : array->shape) {
    CHECK_GE(dim, 0);
    count *= static_cast<uint64_t>(dim);  // Bounded: the data holds them all.
  }
  if (array->kind == NpyArray::Kind::kFloat) {
    CHECK_EQ(array->floats.size(), count);
    CHECK(array->integers.empty());
    rnnserve::fuzz::CheckRoundTrip(*array);
  } else {
    CHECK_EQ(array->integers.size(), count);
    CHECK(array->floats.empty());
  }
  return 0;
}
