// CheckHdf5Structure: every Keras HDF5 fixture passes; one corrupted field of
// the structures libhdf5 1.10.8 decodes unchecked is refused naming the
// object and the problem (the keras_fuzzer finding it defends against is
// tests/testdata/fuzz_regressions/keras_fuzzer/attribute_dataspace_past_message.h5).
#include "model/importers/hdf5_structure_check.h"

#include <cstring>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/model/test_util.h"
#include "util/byte_order.h"
#include "util/file.h"

namespace rnnserve::model {
namespace {

using ::rnnserve::model::testing::TestdataPath;
using ::testing::HasSubstr;

std::string Fixture(const std::string& relative) {
  absl::StatusOr<std::string> bytes = util::ReadFileToString(TestdataPath(relative));
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : std::string();
}

void StoreU16(std::string& bytes, size_t at, uint16_t value) {
  bytes[at] = static_cast<char>(value & 0xff);
  bytes[at + 1] = static_cast<char>(value >> 8);
}

void StoreU64(std::string& bytes, size_t at, uint64_t value) {
  for (int i = 0; i < 8; ++i) bytes[at + i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

TEST(Hdf5StructureCheckTest, EveryKerasHdf5FixturePasses) {
  for (const char* file :
       {"keras/k220_lstm_bare_list/model.h5", "keras/k224_bilstm_tokens/model.h5",
        "keras/k240_gru_reset_after_x2/model.h5", "keras/k2100_bilstm_hdf5_named_keras/model.keras",
        "keras/k2150_functional_gru_lstm/model.h5", "keras/k380_legacy_go_backwards/model.h5",
        "keras_bad/weights_only/model.h5", "keras_bad/keras3_weights_only/model.h5"}) {
    EXPECT_TRUE(CheckHdf5Structure(Fixture(file), file).ok()) << file;
  }
}

TEST(Hdf5StructureCheckTest, RefusesAnAttributeWhosePartsOverrunTheMessage) {
  std::string bytes = Fixture("keras/k240_gru_reset_after_x2/model.h5");
  // A version-1 attribute message: version, reserved, name size, datatype
  // size, dataspace size, then the name.
  const size_t name = bytes.find(std::string("model_config\0", 13));
  ASSERT_NE(name, std::string::npos);
  StoreU16(bytes, name - 2, 0xfd07);  // the fuzzer's dataspace size
  const absl::Status status = CheckHdf5Structure(bytes, "m.h5");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("m.h5: an attribute message of / at byte " + std::to_string(name - 8) +
                        " declares a 13-byte name, a 20-byte datatype and a 64775-byte dataspace"));
}

TEST(Hdf5StructureCheckTest, RefusesAttributeDataBeyondTheMessage) {
  std::string bytes = Fixture("keras/k240_gru_reset_after_x2/model.h5");
  const size_t name = bytes.find(std::string("layer_names\0", 12));
  ASSERT_NE(name, std::string::npos);
  // layer_names of /model_weights: name 12 -> 16, datatype 8 (fixed string),
  // then a simple dataspace: version 1, rank 1, ..., its first dimension.
  const size_t dims = name + 16 + 8 + 8;
  ASSERT_EQ(bytes[dims - 8], 1);  // dataspace version 1
  ASSERT_EQ(bytes[dims - 7], 1);  // rank 1
  StoreU64(bytes, dims, 1000);
  const absl::Status status = CheckHdf5Structure(bytes, "m.h5");
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("an attribute message of /model_weights at byte " +
                        std::to_string(name - 8) + " holds 1000 elements of "));
}

TEST(Hdf5StructureCheckTest, RefusesAVariableLengthStringLongerThanTheFile) {
  std::string bytes = Fixture("keras/k240_gru_reset_after_x2/model.h5");
  // model_config's one element, after its name (13 -> 16 bytes), datatype
  // (20 -> 24) and scalar dataspace (8): the string's length, then its heap ID.
  const size_t name = bytes.find(std::string("model_config\0", 13));
  ASSERT_NE(name, std::string::npos);
  const size_t element = name + 16 + 24 + 8;
  ASSERT_EQ(util::LoadU32(bytes.data() + element + 4), 0x800u);  // its collection's address
  for (int i = 0; i < 4; ++i) bytes[element + i] = static_cast<char>(0xff);
  EXPECT_THAT(std::string(CheckHdf5Structure(bytes, "m.h5").message()),
              HasSubstr("an attribute message of / at byte " + std::to_string(name - 8) +
                        " has a variable-length element of 4294967295 x 1 bytes"));
}

TEST(Hdf5StructureCheckTest, RefusesAHeaderContinuationOutsideTheFile) {
  std::string bytes = Fixture("keras/k240_gru_reset_after_x2/model.h5");
  // The root object header (superblock v0: its address at byte 64) starts
  // with a continuation message in h5py's files: type 0x10 at header + 16.
  const uint64_t root = util::LoadU64(bytes.data() + 64);
  ASSERT_EQ(util::LoadU16(bytes.data() + root + 16), 0x10);
  StoreU64(bytes, root + 24, bytes.size() - 8);
  const absl::Status status = CheckHdf5Structure(bytes, "m.h5");
  EXPECT_THAT(status.message(),
              HasSubstr("the object header of / at byte " + std::to_string(bytes.size() - 8) +
                        " has a chunk past the end of the file"));
}

TEST(Hdf5StructureCheckTest, RefusesAGroupWhoseObjectHeaderLiesOutsideTheFile) {
  std::string bytes = Fixture("keras/k240_gru_reset_after_x2/model.h5");
  // The first member of the first symbol node: its object header address
  // (after the 8-byte node header and the entry's 8-byte name offset).
  const size_t node = bytes.find("SNOD");
  ASSERT_NE(node, std::string::npos);
  StoreU64(bytes, node + 16, bytes.size() + 100);
  const absl::Status status = CheckHdf5Structure(bytes, "m.h5");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("at byte " + std::to_string(bytes.size() + 100) +
                                          " lies outside the file"));
}

TEST(Hdf5StructureCheckTest, RefusesAUserBlock) {
  std::string bytes = Fixture("keras/k220_lstm_bare_list/model.h5");
  StoreU64(bytes, 24, 512);
  EXPECT_THAT(CheckHdf5Structure(bytes, "m.h5").message(),
              HasSubstr("has a base address other than 0"));
}

}  // namespace
}  // namespace rnnserve::model
