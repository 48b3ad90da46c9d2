// libFuzzer target: cluster::DecodeCheckpoint on any bytes, as a replica
// reads a session record's checkpoint from Redis. Each input ends in a
// SessionState or DATA_LOSS (never a crash, nor an allocation beyond
// kMaxCheckpointBytes), and a state it decodes survives Encode -> Decode
// exactly.
#include "fuzz/fuzz_util.h"
#include "glog/logging.h"
#include "server/cluster/checkpoint_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using rnnserve::cluster::DecodeCheckpoint;
  absl::StatusOr<rnnserve::v1::SessionState> state =
      DecodeCheckpoint(rnnserve::fuzz::Bytes(data, size));
  if (!state.ok()) {
    CHECK_EQ(state.status().code(), absl::StatusCode::kDataLoss) << state.status();
    return 0;
  }
  const std::string encoded = rnnserve::cluster::CheckpointEncoder().Encode(*state);
  absl::StatusOr<rnnserve::v1::SessionState> again = DecodeCheckpoint(encoded);
  CHECK(again.ok()) << again.status();
  CHECK_EQ(again->SerializeAsString(), state->SerializeAsString());
  return 0;
}
