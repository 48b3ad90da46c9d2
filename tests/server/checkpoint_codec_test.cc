#include "server/cluster/checkpoint_codec.h"

#include <zstd.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "util/file.h"

namespace rnnserve::cluster {
namespace {

// A state shaped like an LSTM's: hidden values in (-1, 1), cell values
// spread wider (charlm's reach +-150).
std::string LstmLikeState(size_t values, uint32_t seed) {
  std::mt19937 random(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> floats(values);
  for (size_t i = 0; i < values; ++i) {
    floats[i] = i % 2 == 0 ? std::tanh(normal(random)) : 20.0f * normal(random);
  }
  return std::string(reinterpret_cast<const char*>(floats.data()), values * sizeof(float));
}

v1::SessionState State(std::string bytes) {
  v1::SessionState state;
  state.set_session_id("user-42");
  state.mutable_model()->set_name("charlm");
  state.mutable_model()->set_version(3);
  state.set_fingerprint("sha256:d53dd44dd238d6906ba150cb7a21d9a5ebe26210b3d7154b2f11c5b1964ea397");
  state.set_steps(1234);
  state.set_state(std::move(bytes));
  return state;
}

void ExpectSame(const v1::SessionState& a, const v1::SessionState& b) {
  EXPECT_EQ(a.SerializeAsString(), b.SerializeAsString());
}

TEST(CheckpointCodecTest, RoundTripsEveryFieldExactly) {
  CheckpointEncoder encoder;
  for (const size_t values : {0, 1, 7, 768, 20'000}) {
    const v1::SessionState state = State(LstmLikeState(values, 7));
    absl::StatusOr<v1::SessionState> decoded = DecodeCheckpoint(encoder.Encode(state));
    ASSERT_TRUE(decoded.ok()) << values << ": " << decoded.status();
    ExpectSame(*decoded, state);
  }
}

TEST(CheckpointCodecTest, KeepsBytesPastTheLastWholeValue) {
  CheckpointEncoder encoder;
  for (const std::string& bytes : {std::string("\x01"), std::string("abcdefgh\x7f\x80\xff", 11)}) {
    const v1::SessionState state = State(bytes);
    absl::StatusOr<v1::SessionState> decoded = DecodeCheckpoint(encoder.Encode(state));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    ExpectSame(*decoded, state);
  }
}

// The reason for the format: charlm's 3 072-byte state must leave room for
// the record's header and metadata under the allocator's 3 072-byte class.
TEST(CheckpointCodecTest, PacksAnLstmStateBelowItsRawSize) {
  const v1::SessionState state = State(LstmLikeState(768, 11));
  const std::string plain = state.SerializeAsString();
  const std::string packed = CheckpointEncoder().Encode(state);
  EXPECT_LT(packed.size() + 256, plain.size()) << packed.size() << " vs " << plain.size();
}

// testdata/checkpoints: a real charlm session (200 steps of random tokens)
// as `rnnserve-cli session export` wrote it, and as this format packed it.
// Records in Redis outlive a release: this format must stay readable.
TEST(CheckpointCodecTest, ReadsThePackedRecordOfARealSession) {
  const std::string dir = RNNSERVE_TESTDATA_DIR "/checkpoints/";
  absl::StatusOr<std::string> exported = util::ReadFileToString(dir + "charlm_exported.bin");
  absl::StatusOr<std::string> packed = util::ReadFileToString(dir + "charlm_packed.bin");
  ASSERT_TRUE(exported.ok() && packed.ok()) << exported.status() << packed.status();
  v1::SessionState state;
  ASSERT_TRUE(state.ParseFromString(*exported));
  absl::StatusOr<v1::SessionState> decoded = DecodeCheckpoint(*packed);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ExpectSame(*decoded, state);
  // Its 3 072 bytes of state, with the record's ~30-byte header line and
  // Redis's 4 bytes of string header, fit the allocator's 3 072-byte class.
  EXPECT_LE(CheckpointEncoder().Encode(state).size(), 2950u);
}

TEST(CheckpointCodecTest, ReadsRecordsWrittenBeforeTheFormat) {
  const v1::SessionState state = State(LstmLikeState(768, 3));
  absl::StatusOr<v1::SessionState> decoded = DecodeCheckpoint(state.SerializeAsString());
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ExpectSame(*decoded, state);
}

std::string Frame(const std::string& content) {
  std::string frame(ZSTD_compressBound(content.size()), '\0');
  const size_t size = ZSTD_compress(frame.data(), frame.size(), content.data(), content.size(), 1);
  EXPECT_FALSE(ZSTD_isError(size));
  frame.resize(size);
  return frame;
}

TEST(CheckpointCodecTest, RefusesCorruptBodiesAsDataLoss) {
  const std::string packed = CheckpointEncoder().Encode(State(LstmLikeState(768, 5)));
  std::string bad_length("\xff\xff\xff\x7f", 4);
  const std::vector<std::string> bodies = {
      std::string("\xff\xfe garbage", 10),
      packed.substr(0, packed.size() - 9),             // Cut short.
      packed.substr(0, 6),                             // Not even a frame header.
      Frame(bad_length + std::string(4, '\0') + "x"),  // Metadata longer than the frame.
      Frame(std::string("\x03\x00\x00\x00\x00\x00\x00\x00zzz", 11)),  // Not a SessionState.
      Frame(std::string(kMaxCheckpointBytes + 1, '\0')),
      packed + "x",  // A low byte too many.
  };
  for (size_t i = 0; i < bodies.size(); ++i) {
    absl::StatusOr<v1::SessionState> decoded = DecodeCheckpoint(bodies[i]);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss)
        << i << ": " << decoded.status();
  }
}

}  // namespace
}  // namespace rnnserve::cluster
