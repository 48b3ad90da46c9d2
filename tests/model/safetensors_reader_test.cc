#include "model/importers/safetensors_reader.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rnnserve::model {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kSource[] = "weights.safetensors";

std::string LittleEndian(uint64_t value, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) {
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
  return out;
}

// A safetensors file: the header's length, the header, the data.
std::string Blob(absl::string_view header, absl::string_view data) {
  return absl::StrCat(LittleEndian(header.size(), 8), header, data);
}

std::string F32Bytes(std::initializer_list<float> values) {
  std::string out;
  for (float v : values) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    out += LittleEndian(bits, 4);
  }
  return out;
}

std::string F64Bytes(std::initializer_list<double> values) {
  std::string out;
  for (double v : values) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    out += LittleEndian(bits, 8);
  }
  return out;
}

std::string U16Bytes(std::initializer_list<uint16_t> values) {
  std::string out;
  for (uint16_t v : values) out += LittleEndian(v, 2);
  return out;
}

// One tensor entry of a header.
std::string Entry(absl::string_view dtype, absl::string_view shape,
                  absl::string_view offsets) {
  return absl::StrCat(R"({"dtype": ")", dtype, R"(", "shape": )", shape,
                      R"(, "data_offsets": )", offsets, "}");
}

absl::Status ParseStatus(const std::string& blob) {
  return SafetensorsFile::Parse(blob, kSource).status();
}

// A status for `header` over 16 bytes of float data.
absl::Status HeaderStatus(absl::string_view header) {
  return ParseStatus(Blob(header, F32Bytes({1, 2, 3, 4})));
}

TEST(SafetensorsReaderTest, ReadsF32Tensor) {
  auto file = SafetensorsFile::Parse(
      Blob(absl::StrCat(R"({"w": )", Entry("F32", "[2, 2]", "[0, 16]"), "}"),
           F32Bytes({1.5f, -2, 0.25f, 1e-30f})),
      kSource);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE(file->tensors().contains("w"));
  const Tensor& w = file->tensors().at("w");
  EXPECT_THAT(w.shape, ElementsAre(2, 2));
  EXPECT_THAT(w.values, ElementsAre(1.5f, -2.0f, 0.25f, 1e-30f));
  EXPECT_THAT(file->metadata(), IsEmpty());
}

TEST(SafetensorsReaderTest, ReadsEmptyHeader) {
  auto file = SafetensorsFile::Parse(Blob("{}", ""), kSource);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_THAT(file->tensors(), IsEmpty());
  EXPECT_THAT(file->RemainingNames(), IsEmpty());
}

TEST(SafetensorsReaderTest, ReadsScalarAndEmptyTensors) {
  auto file = SafetensorsFile::Parse(
      Blob(absl::StrCat(R"({"scalar": )", Entry("F32", "[]", "[0, 4]"),
                        R"(, "empty": )", Entry("F32", "[0, 3]", "[4, 4]"),
                        R"(, "empty_at_start": )",
                        Entry("F16", "[0]", "[0, 0]"), "}"),
           F32Bytes({7})),
      kSource);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_THAT(file->tensors().at("scalar").shape, IsEmpty());
  EXPECT_THAT(file->tensors().at("scalar").values, ElementsAre(7.0f));
  EXPECT_THAT(file->tensors().at("empty").shape, ElementsAre(0, 3));
  EXPECT_THAT(file->tensors().at("empty").values, IsEmpty());
  EXPECT_THAT(file->tensors().at("empty_at_start").values, IsEmpty());
}

TEST(SafetensorsReaderTest, ConvertsF64) {
  auto file = SafetensorsFile::Parse(
      Blob(absl::StrCat(R"({"d": )", Entry("F64", "[3]", "[0, 24]"), "}"),
           F64Bytes({0.1, -3.0e38, 1.0e-50})),
      kSource);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_THAT(file->tensors().at("d").values,
              ElementsAre(0.1f, -3.0e38f, 0.0f));
}

TEST(SafetensorsReaderTest, ConvertsBF16) {
  // 1.0, -2.0, 3.140625 (0x4049), the smallest bf16 subnormal 2^-133.
  auto file = SafetensorsFile::Parse(
      Blob(absl::StrCat(R"({"b": )", Entry("BF16", "[4]", "[0, 8]"), "}"),
           U16Bytes({0x3f80, 0xc000, 0x4049, 0x0001})),
      kSource);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_THAT(file->tensors().at("b").values,
              ElementsAre(1.0f, -2.0f, 3.140625f, std::ldexp(1.0f, -133)));
}

TEST(SafetensorsReaderTest, ConvertsF16NormalsSubnormalsAndZeros) {
  auto file = SafetensorsFile::Parse(
      Blob(absl::StrCat(R"({"h": )", Entry("F16", "[8]", "[0, 16]"), "}"),
           U16Bytes({0x3c00, 0xc000, 0x7bff, 0x0400, 0x0001, 0x03ff, 0x8001,
                     0x8000})),
      kSource);
  ASSERT_TRUE(file.ok()) << file.status();
  const std::vector<float>& h = file->tensors().at("h").values;
  EXPECT_THAT(h,
              ElementsAre(1.0f, -2.0f, 65504.0f, std::ldexp(1.0f, -14),
                          std::ldexp(1.0f, -24), 1023 * std::ldexp(1.0f, -24),
                          -std::ldexp(1.0f, -24), 0.0f));
  EXPECT_TRUE(std::signbit(h[7]));
}

TEST(SafetensorsReaderTest, ReadsTensorsStoredOutOfOrder) {
  // "b" is listed first but stored second; "a" is stored first.
  const std::string header =
      absl::StrCat(R"({"b": )", Entry("F32", "[1]", "[8, 12]"), R"(, "a": )",
                   Entry("F32", "[2]", "[0, 8]"), "}");
  auto file =
      SafetensorsFile::Parse(Blob(header, F32Bytes({1, 2, 3})), kSource);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_THAT(file->tensors().at("a").values, ElementsAre(1.0f, 2.0f));
  EXPECT_THAT(file->tensors().at("b").values, ElementsAre(3.0f));
}

TEST(SafetensorsReaderTest, ReadsMetadata) {
  const std::string header =
      absl::StrCat(R"({"__metadata__": {"format": "pt", "note": ""}, "w": )",
                   Entry("F32", "[1]", "[0, 4]"), "}");
  auto file = SafetensorsFile::Parse(Blob(header, F32Bytes({1})), kSource);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->metadata().size(), 2);
  EXPECT_EQ(file->metadata().at("format"), "pt");
  EXPECT_EQ(file->metadata().at("note"), "");
  EXPECT_THAT(file->RemainingNames(), ElementsAre("w"));
}

TEST(SafetensorsReaderTest, AcceptsTrailingSpacesInHeader) {
  const std::string header = absl::StrCat(
      R"({"w": )", Entry("F32", "[1]", "[0, 4]"), "}", std::string(11, ' '));
  auto file = SafetensorsFile::Parse(Blob(header, F32Bytes({5})), kSource);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_THAT(file->tensors().at("w").values, ElementsAre(5.0f));
}

TEST(SafetensorsReaderTest, TakeRemovesTensorsAndReportsTheRest) {
  const std::string header =
      absl::StrCat(R"({"c": )", Entry("F32", "[1]", "[0, 4]"), R"(, "a": )",
                   Entry("F32", "[1]", "[4, 8]"), R"(, "b": )",
                   Entry("F32", "[1]", "[8, 12]"), "}");
  auto file =
      SafetensorsFile::Parse(Blob(header, F32Bytes({1, 2, 3})), kSource);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_THAT(file->RemainingNames(), ElementsAre("a", "b", "c"));
  absl::StatusOr<Tensor> a = file->Take("a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(a->values, ElementsAre(2.0f));
  EXPECT_THAT(file->RemainingNames(), ElementsAre("b", "c"));

  absl::StatusOr<Tensor> again = file->Take("a");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(again.status().message(), HasSubstr("'a'"));
  EXPECT_THAT(again.status().message(), HasSubstr(kSource));
}

TEST(SafetensorsReaderTest, RefusesFileShorterThanEightBytes) {
  absl::Status status = ParseStatus(std::string("\x05\0\0\0\0", 5));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(kSource));
  EXPECT_THAT(status.message(), HasSubstr("file is 5 bytes"));
  EXPECT_THAT(status.message(), HasSubstr("8-byte"));
}

TEST(SafetensorsReaderTest, RefusesHeaderLengthPastEndOfFile) {
  absl::Status status =
      ParseStatus(absl::StrCat(LittleEndian(1000, 8), "{}  "));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("header length is 1000 bytes"));
  EXPECT_THAT(status.message(), HasSubstr("only 4 bytes follow"));
}

TEST(SafetensorsReaderTest, RefusesHugeHeaderLengthWithoutAllocating) {
  absl::Status status = ParseStatus(absl::StrCat(
      LittleEndian(std::numeric_limits<uint64_t>::max(), 8), "{}"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("18446744073709551615"));
}

TEST(SafetensorsReaderTest, RefusesHeaderThatIsNotJson) {
  absl::Status status = HeaderStatus(R"({"w": {"dtype": F32}})");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("not valid JSON"));
  EXPECT_THAT(status.message(), HasSubstr("column"));
}

TEST(SafetensorsReaderTest, RefusesHeaderWithInvalidUtf8) {
  absl::Status status = HeaderStatus("{\"w\xff\": 1}");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("not valid JSON"));
}

TEST(SafetensorsReaderTest, RefusesHeaderThatIsNotAnObject) {
  absl::Status status = HeaderStatus("[1, 2]");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("header is an array"));
  EXPECT_THAT(status.message(), HasSubstr("want a JSON object"));
}

TEST(SafetensorsReaderTest, RefusesEntryThatIsNotAnObject) {
  absl::Status status = HeaderStatus(R"({"w": [0, 16]})");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("tensor 'w'"));
  EXPECT_THAT(status.message(), HasSubstr("want an object"));
}

TEST(SafetensorsReaderTest, RefusesMissingFields) {
  for (auto [header, field] : {
           std::pair{R"({"w": {"shape": [4], "data_offsets": [0, 16]}})",
                     "missing \"dtype\""},
           std::pair{R"({"w": {"dtype": "F32", "data_offsets": [0, 16]}})",
                     "missing \"shape\""},
           std::pair{R"({"w": {"dtype": "F32", "shape": [4]}})",
                     "missing \"data_offsets\""},
       }) {
    absl::Status status = HeaderStatus(header);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << header;
    EXPECT_THAT(status.message(), HasSubstr("tensor 'w'"));
    EXPECT_THAT(status.message(), HasSubstr(field));
  }
}

TEST(SafetensorsReaderTest, RefusesWrongTypedFields) {
  for (auto [entry, want] : {
           std::pair<absl::string_view, absl::string_view>{
               R"({"dtype": 32, "shape": [4], "data_offsets": [0, 16]})",
               "\"dtype\" is 32; want a string"},
           {R"({"dtype": "F32", "shape": "4", "data_offsets": [0, 16]})",
            "\"shape\" is \"4\"; want an array"},
           {R"({"dtype": "F32", "shape": [4], "data_offsets": {}})",
            "\"data_offsets\" is an object; want [begin, end]"},
       }) {
    absl::Status status = HeaderStatus(absl::StrCat(R"({"w": )", entry, "}"));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << entry;
    EXPECT_THAT(status.message(), HasSubstr(want));
  }
}

TEST(SafetensorsReaderTest, RefusesNonIntegerShapeDims) {
  for (absl::string_view shape : {"[2.5]", "[\"4\"]", "[null]", "[[4]]"}) {
    absl::Status status = HeaderStatus(
        absl::StrCat(R"({"w": )", Entry("F32", shape, "[0, 16]"), "}"));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << shape;
    EXPECT_THAT(status.message(), HasSubstr("shape[0]"));
    EXPECT_THAT(status.message(), HasSubstr("want a non-negative integer"));
  }
}

TEST(SafetensorsReaderTest, RefusesNegativeShapeDim) {
  absl::Status status = HeaderStatus(
      absl::StrCat(R"({"w": )", Entry("F32", "[2, -2]", "[0, 16]"), "}"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("tensor 'w': shape[1] is -2"));
}

TEST(SafetensorsReaderTest, RefusesOverflowingShape) {
  absl::Status status = HeaderStatus(absl::StrCat(
      R"({"w": )", Entry("F32", "[4294967296, 4294967296, 4]", "[0, 16]"),
      "}"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("more than 2^63 - 1 elements"));

  status = HeaderStatus(absl::StrCat(
      R"({"w": )", Entry("F32", "[18446744073709551615]", "[0, 16]"), "}"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("shape[0] is 18446744073709551615"));

  status = HeaderStatus(
      absl::StrCat(R"({"w": )", Entry("F32", "[1e30]", "[0, 16]"), "}"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("want a non-negative integer"));
}

TEST(SafetensorsReaderTest, RefusesElementCountThatOverflowsBytes) {
  // 2^62 elements fit int64 but not once multiplied by 4 bytes.
  absl::Status status = HeaderStatus(absl::StrCat(
      R"({"w": )", Entry("F32", "[4611686018427387904]", "[0, 16]"), "}"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("hold 16 bytes"));
}

TEST(SafetensorsReaderTest, RefusesDataOffsetsThatAreNotAPair) {
  for (absl::string_view offsets : {"[16]", "[0, 8, 16]", "[]"}) {
    absl::Status status = HeaderStatus(
        absl::StrCat(R"({"w": )", Entry("F32", "[4]", offsets), "}"));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << offsets;
    EXPECT_THAT(status.message(), HasSubstr("want [begin, end]"));
  }
}

TEST(SafetensorsReaderTest, RefusesNegativeOrNonIntegerDataOffsets) {
  absl::Status status = HeaderStatus(
      absl::StrCat(R"({"w": )", Entry("F32", "[4]", "[-4, 12]"), "}"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("data_offsets[0] is -4"));

  status = HeaderStatus(
      absl::StrCat(R"({"w": )", Entry("F32", "[4]", "[0, \"16\"]"), "}"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("data_offsets[1] is \"16\""));
}

TEST(SafetensorsReaderTest, RefusesDataOffsetsBeginAfterEnd) {
  absl::Status status = HeaderStatus(
      absl::StrCat(R"({"w": )", Entry("F32", "[0]", "[12, 8]"), "}"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("[12, 8] begin after end"));
}

TEST(SafetensorsReaderTest, RefusesDataOffsetsPastDataSection) {
  absl::Status status = HeaderStatus(
      absl::StrCat(R"({"w": )", Entry("F32", "[5]", "[0, 20]"), "}"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("tensor 'w'"));
  EXPECT_THAT(status.message(), HasSubstr("end 20 is past the end of the "
                                          "data section (16 bytes)"));
}

TEST(SafetensorsReaderTest, RefusesByteSizeThatDoesNotMatchShape) {
  absl::Status status = HeaderStatus(
      absl::StrCat(R"({"w": )", Entry("F32", "[3]", "[0, 16]"), "}"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("tensor 'w'"));
  EXPECT_THAT(status.message(), HasSubstr("hold 16 bytes"));
  EXPECT_THAT(status.message(), HasSubstr("shape [3] needs 3 x 4"));
}

TEST(SafetensorsReaderTest, RefusesOverlappingTensors) {
  absl::Status status = HeaderStatus(
      absl::StrCat(R"({"late": )", Entry("F32", "[2]", "[8, 16]"),
                   R"(, "early": )", Entry("F32", "[3]", "[0, 12]"), "}"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("'early' (bytes [0, 12))"));
  EXPECT_THAT(status.message(), HasSubstr("'late' (bytes [8, 16))"));
  EXPECT_THAT(status.message(), HasSubstr("overlap"));
}

TEST(SafetensorsReaderTest, RefusesTwoTensorsOnTheSameBytes) {
  absl::Status status = HeaderStatus(
      absl::StrCat(R"({"a": )", Entry("F32", "[4]", "[0, 16]"), R"(, "b": )",
                   Entry("F16", "[8]", "[0, 16]"), "}"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("overlap"));
}

TEST(SafetensorsReaderTest, RefusesUnsupportedDtypeNamingTensorAndDtype) {
  for (absl::string_view dtype : {"I32", "U8", "BOOL", "F8_E4M3", "f32"}) {
    absl::Status status = HeaderStatus(
        absl::StrCat(R"({"emb": )", Entry(dtype, "[4]", "[0, 16]"), "}"));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << dtype;
    EXPECT_THAT(status.message(),
                HasSubstr(absl::StrCat("tensor 'emb' has dtype ", dtype)));
    EXPECT_THAT(status.message(), HasSubstr("F32, F16, BF16 and F64"));
  }
}

TEST(SafetensorsReaderTest, RefusesNaNNamingTensorAndIndex) {
  absl::Status status = ParseStatus(
      Blob(absl::StrCat(R"({"bias": )", Entry("F32", "[4]", "[0, 16]"), "}"),
           F32Bytes({1, 2, std::numeric_limits<float>::quiet_NaN(), 4})));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("tensor 'bias'"));
  EXPECT_THAT(status.message(), HasSubstr("non-finite value (NaN)"));
  EXPECT_THAT(status.message(), HasSubstr("flat index 2"));
}

TEST(SafetensorsReaderTest, RefusesF16InfinityNamingTensorAndIndex) {
  absl::Status status = ParseStatus(
      Blob(absl::StrCat(R"({"h": )", Entry("F16", "[3]", "[0, 6]"), "}"),
           U16Bytes({0x3c00, 0xfc00, 0x7c00})));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("tensor 'h'"));
  EXPECT_THAT(status.message(), HasSubstr("non-finite value (-inf)"));
  EXPECT_THAT(status.message(), HasSubstr("flat index 1"));
}

TEST(SafetensorsReaderTest, RefusesBF16NaN) {
  absl::Status status = ParseStatus(
      Blob(absl::StrCat(R"({"b": )", Entry("BF16", "[2]", "[0, 4]"), "}"),
           U16Bytes({0x3f80, 0x7fc0})));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("non-finite value (NaN)"));
  EXPECT_THAT(status.message(), HasSubstr("flat index 1"));
}

TEST(SafetensorsReaderTest, RefusesF64OutsideFloatRange) {
  absl::Status status = ParseStatus(
      Blob(absl::StrCat(R"({"d": )", Entry("F64", "[2]", "[0, 16]"), "}"),
           F64Bytes({1.0, -1e300})));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("tensor 'd' has value -1e+300"));
  EXPECT_THAT(status.message(), HasSubstr("outside float32 range"));

  status = ParseStatus(
      Blob(absl::StrCat(R"({"d": )", Entry("F64", "[1]", "[0, 8]"), "}"),
           F64Bytes({std::numeric_limits<double>::infinity()})));
  EXPECT_THAT(status.message(), HasSubstr("non-finite value (inf)"));
}

TEST(SafetensorsReaderTest, RefusesMalformedMetadata) {
  absl::Status status = HeaderStatus(R"({"__metadata__": {"epochs": 3}})");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("\"__metadata__\" entry 'epochs' is 3; want a string"));

  status = HeaderStatus(R"({"__metadata__": "pt"})");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("want an object of strings"));
}

// Every prefix and many single-byte corruptions of a valid file must come
// back as a status (run under AddressSanitizer to catch the rest).
TEST(SafetensorsReaderTest, SurvivesTruncationAndCorruption) {
  const std::string header = absl::StrCat(
      R"({"__metadata__": {"k": "v"}, "a": )", Entry("F16", "[2]", "[0, 4]"),
      R"(, "b": )", Entry("BF16", "[1, 2]", "[4, 8]"), R"(, "c": )",
      Entry("F64", "[1]", "[8, 16]"), R"(, "d": )",
      Entry("F32", "[2]", "[16, 24]"), "}  ");
  const std::string valid =
      Blob(header,
           absl::StrCat(U16Bytes({0x3c00, 0x0001}), U16Bytes({0x3f80, 0x4000}),
                        F64Bytes({2.5}), F32Bytes({1, 2})));
  ASSERT_TRUE(ParseStatus(valid).ok()) << ParseStatus(valid);
  for (size_t n = 0; n < valid.size(); ++n) {
    EXPECT_FALSE(ParseStatus(valid.substr(0, n)).ok()) << n;
  }
  for (size_t i = 0; i < valid.size(); ++i) {
    for (char c : {'\0', '\xff', '"', '[', '9', '-', '}', ' '}) {
      std::string corrupt = valid;
      corrupt[i] = c;
      absl::Status status = ParseStatus(corrupt);
      if (!status.ok()) {
        EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << i;
      }
    }
  }
}

class SafetensorsReaderFileTest : public testing::Test {
 protected:
  std::string TempPath(absl::string_view name) {
    return absl::StrCat(testing::TempDir(), "/safetensors_reader_test_", name);
  }
};

TEST_F(SafetensorsReaderFileTest, ReadsFile) {
  const std::string path = TempPath("ok.safetensors");
  {
    std::ofstream out(path, std::ios::binary);
    out << Blob(absl::StrCat(R"({"w": )", Entry("F32", "[2]", "[0, 8]"), "}"),
                F32Bytes({3, 4}));
  }
  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Read(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_THAT(file->tensors().at("w").values, ElementsAre(3.0f, 4.0f));
  std::filesystem::remove(path);
}

TEST_F(SafetensorsReaderFileTest, NamesThePathInParseErrors) {
  const std::string path = TempPath("short.safetensors");
  {
    std::ofstream out(path, std::ios::binary);
    out << "abc";
  }
  absl::Status status = SafetensorsFile::Read(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(path));
  EXPECT_THAT(status.message(), HasSubstr("file is 3 bytes"));
  std::filesystem::remove(path);
}

TEST_F(SafetensorsReaderFileTest, MissingFileIsNotFound) {
  const std::string path = TempPath("does_not_exist.safetensors");
  absl::Status status = SafetensorsFile::Read(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr(path));
}

TEST_F(SafetensorsReaderFileTest, RefusesDirectory) {
  absl::Status status = SafetensorsFile::Read(testing::TempDir()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("not a regular file"));
}

}  // namespace
}  // namespace rnnserve::model
