#include "server/cluster/checkpoint_codec.h"

#include <zstd.h>

#include <cstdint>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace rnnserve::cluster {
namespace {

// zstd's fastest regular level: the top bytes are nearly all
// Huffman-coded literals, which no level codes better.
constexpr int kLevel = 1;
constexpr size_t kValueBytes = sizeof(float);
constexpr size_t kTopByte = 3;  // Little-endian: the sign and 7 exponent bits.
constexpr size_t kLowBytes = 3;
constexpr size_t kLengthBytes = 4;  // A count, little-endian.
// The frame's content starts with the metadata's length and the number of
// values, so that a record cut short or spliced is refused.
constexpr size_t kCountsBytes = 2 * kLengthBytes;
// A zstd frame starts with 28 b5 2f fd; a serialized SessionState with a
// tag byte (0x0a for session_id), never 0x28.
constexpr unsigned char kFrameMagic[] = {0x28, 0xb5, 0x2f, 0xfd};

void AppendLength(uint32_t length, std::string* out) {
  for (size_t i = 0; i < kLengthBytes; ++i) out->push_back(static_cast<char>(length >> (8 * i)));
}

uint32_t ReadLength(absl::string_view bytes, size_t at) {
  uint32_t length = 0;
  for (size_t i = 0; i < kLengthBytes; ++i) {
    length |= uint32_t{static_cast<unsigned char>(bytes[at + i])} << (8 * i);
  }
  return length;
}

absl::Status Corrupt(absl::string_view why) {
  return absl::DataLossError(absl::StrCat("session checkpoint is unreadable: ", why));
}

}  // namespace

void CheckpointEncoder::ContextDeleter::operator()(ZSTD_CCtx_s* context) const {
  ZSTD_freeCCtx(context);
}

CheckpointEncoder::CheckpointEncoder() : context_(ZSTD_createCCtx()) {
  CHECK(context_ != nullptr) << "zstd could not allocate a compression context";
  CHECK(!ZSTD_isError(ZSTD_CCtx_setParameter(context_.get(), ZSTD_c_compressionLevel, kLevel)));
  // No checksum, as in ExportSession's bytes: Redis keeps what it was given,
  // and the frame's sizes catch a record cut short or spliced.
  CHECK(!ZSTD_isError(ZSTD_CCtx_setParameter(context_.get(), ZSTD_c_checksumFlag, 0)));
}

CheckpointEncoder::~CheckpointEncoder() = default;

std::string CheckpointEncoder::Encode(v1::SessionState state) {
  const std::string values = std::move(*state.mutable_state());
  state.clear_state();
  const size_t count = values.size() / kValueBytes;
  const size_t tail = values.size() % kValueBytes;  // None in a valid state.
  packed_.clear();
  AppendLength(static_cast<uint32_t>(state.ByteSizeLong()), &packed_);
  AppendLength(static_cast<uint32_t>(count), &packed_);
  state.AppendToString(&packed_);
  for (size_t i = 0; i < count; ++i) packed_.push_back(values[i * kValueBytes + kTopByte]);
  packed_.append(values, count * kValueBytes, tail);

  const size_t bound = ZSTD_compressBound(packed_.size());
  std::string body(bound + count * kLowBytes, '\0');
  const size_t frame =
      ZSTD_compress2(context_.get(), body.data(), bound, packed_.data(), packed_.size());
  CHECK(!ZSTD_isError(frame)) << "zstd: " << ZSTD_getErrorName(frame);
  char* low = body.data() + frame;
  for (size_t i = 0; i < count; ++i, low += kLowBytes) {
    std::memcpy(low, values.data() + i * kValueBytes, kLowBytes);
  }
  body.resize(frame + count * kLowBytes);
  return body;
}

absl::StatusOr<v1::SessionState> DecodeCheckpoint(absl::string_view body) {
  v1::SessionState state;
  if (body.size() < sizeof(kFrameMagic) ||
      std::memcmp(body.data(), kFrameMagic, sizeof(kFrameMagic)) != 0) {
    // Written before this format: ExportSession's bytes.
    if (!state.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
      return Corrupt("neither a zstd frame nor a serialized SessionState");
    }
    return state;
  }
  const size_t frame = ZSTD_findFrameCompressedSize(body.data(), body.size());
  if (ZSTD_isError(frame)) return Corrupt(absl::StrCat("zstd: ", ZSTD_getErrorName(frame)));
  const unsigned long long size = ZSTD_getFrameContentSize(body.data(), frame);
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) {
    return Corrupt("a zstd frame without a valid content size");
  }
  if (size > kMaxCheckpointBytes || size < kCountsBytes) {
    return Corrupt(absl::StrCat("its frame unpacks to ", size, " bytes; want ", kCountsBytes,
                                " to ", kMaxCheckpointBytes));
  }
  std::string packed(size, '\0');
  const size_t unpacked = ZSTD_decompress(packed.data(), packed.size(), body.data(), frame);
  if (ZSTD_isError(unpacked)) return Corrupt(absl::StrCat("zstd: ", ZSTD_getErrorName(unpacked)));
  if (unpacked != size) return Corrupt("its frame unpacks to fewer bytes than it says");

  const absl::string_view low = body.substr(frame);
  const size_t head = ReadLength(packed, 0);
  const size_t count = ReadLength(packed, kLengthBytes);
  if (low.size() != count * kLowBytes || head > size - kCountsBytes ||
      size - kCountsBytes - head < count || size - kCountsBytes - head - count >= kValueBytes) {
    return Corrupt("its parts' sizes do not match");
  }
  if (!state.ParseFromArray(packed.data() + kCountsBytes, static_cast<int>(head))) {
    return Corrupt("its metadata is not a SessionState");
  }
  const absl::string_view top = absl::string_view(packed).substr(kCountsBytes + head, count);
  const absl::string_view tail = absl::string_view(packed).substr(kCountsBytes + head + count);
  std::string* values = state.mutable_state();
  values->resize(count * kValueBytes + tail.size());
  for (size_t i = 0; i < count; ++i) {
    std::memcpy(values->data() + i * kValueBytes, low.data() + i * kLowBytes, kLowBytes);
    (*values)[i * kValueBytes + kTopByte] = top[i];
  }
  std::memcpy(values->data() + count * kValueBytes, tail.data(), tail.size());
  return state;
}

}  // namespace rnnserve::cluster
