// How a session's state is kept in its Redis record (the bytes after the
// record's header line, SessionDirectory): a zstd frame of the
// rnnserve.v1.SessionState without its state, then the top byte (sign and
// exponent) of each of the state's little-endian float32 values; after the
// frame, unpacked, the three low bytes of each value.
//
// Why: Redis memory per session is what a large deployment pays for. A
// state's mantissa bytes are noise, but its top bytes take a few dozen
// values, which the frame's Huffman table codes in about half their size:
// charlm's 3 167-byte SessionState becomes about 2 880 bytes, and its record
// leaves the allocator's 3 584-byte class for the 3 072 one. zstd over the
// whole message finds almost nothing (3 103 bytes: the noise hides the top
// bytes' statistics), and packing the noise too costs three times the CPU
// (13 against 4.5 µs a checkpoint here) for a few bytes.
//
// A record written before this format (a plain serialized SessionState, as
// ExportSession answers) is still read: a rolling update mixes both.
#ifndef RNNSERVE_SERVER_CLUSTER_CHECKPOINT_CODEC_H_
#define RNNSERVE_SERVER_CLUSTER_CHECKPOINT_CODEC_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rnnserve/v1/sessions.pb.h"

struct ZSTD_CCtx_s;

namespace rnnserve::cluster {

// Not thread-safe: one per thread that writes checkpoints (it keeps zstd's
// context and buffers from one checkpoint to the next).
class CheckpointEncoder {
 public:
  CheckpointEncoder();
  ~CheckpointEncoder();
  CheckpointEncoder(const CheckpointEncoder&) = delete;
  CheckpointEncoder& operator=(const CheckpointEncoder&) = delete;

  // Takes `state` by value: its state bytes are moved out, not copied.
  std::string Encode(v1::SessionState state);

 private:
  struct ContextDeleter {
    void operator()(ZSTD_CCtx_s* context) const;
  };
  std::unique_ptr<ZSTD_CCtx_s, ContextDeleter> context_;
  std::string packed_;  // What the frame packs, reused.
};

// DATA_LOSS saying what is wrong when `body` is neither format, or its frame
// would unpack to more than kMaxCheckpointBytes.
absl::StatusOr<v1::SessionState> DecodeCheckpoint(absl::string_view body);

// Far above any state a model here has (2 layers of 4 096 LSTM units take
// 64 KiB): a corrupt or hostile record cannot make a replica allocate more.
inline constexpr size_t kMaxCheckpointBytes = size_t{64} << 20;

}  // namespace rnnserve::cluster

#endif  // RNNSERVE_SERVER_CLUSTER_CHECKPOINT_CODEC_H_
