#include "util/npy.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rnnserve::util {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kSource[] = "array.npy";

std::string LittleEndian(uint64_t value, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) {
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
  return out;
}

// A .npy file with `dict` as its header, unpadded (readers must not care).
std::string Npy(absl::string_view dict, absl::string_view data, int major = 1) {
  return absl::StrCat("\x93NUMPY", std::string(1, static_cast<char>(major)), std::string(1, '\0'),
                      LittleEndian(dict.size(), major == 1 ? 2 : 4), dict, data);
}

std::string Dict(absl::string_view descr, absl::string_view shape) {
  return absl::StrCat("{'descr': '", descr, "', 'fortran_order': False, 'shape': ", shape, ", }");
}

template <typename T>
std::string Bytes(std::initializer_list<T> values) {
  std::string out;
  for (T v : values) {
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof(T));  // Little-endian host, as in CI.
    out += LittleEndian(bits, sizeof(T));
  }
  return out;
}

absl::StatusOr<util::NpyArray> Parse(const std::string& bytes) {
  return util::ParseNpy(bytes, kSource);
}

absl::Status ParseStatus(const std::string& bytes) {
  return util::ParseNpy(bytes, kSource).status();
}

// A header dict over 12 bytes of data.
absl::Status DictStatus(absl::string_view dict) {
  return ParseStatus(Npy(dict, Bytes<float>({1, 2, 3})));
}

std::string TempPath(absl::string_view name) {
  return absl::StrCat(testing::TempDir(), "/npy_test_", name);
}

// The bytes np.save (NumPy 1.24) writes for np.array([1, -2], np.float32):
// sorted keys, 21 - len("2") spaces of growth room, then spaces and a newline
// so that data starts at byte 128.
TEST(NpyTest, SerializeNpyMatchesNumPyBytes) {
  const float data[] = {1, -2};
  EXPECT_EQ(util::SerializeNpy({2}, data),
            absl::StrCat(std::string("\x93NUMPY\x01\x00\x76\x00", 10),
                         "{'descr': '<f4', 'fortran_order': False, "
                         "'shape': (2,), }",
                         std::string(60, ' '), "\n", Bytes<float>({1, -2})));
  EXPECT_EQ(util::SerializeNpy({}, data),
            absl::StrCat(std::string("\x93NUMPY\x01\x00\x76\x00", 10),
                         "{'descr': '<f4', 'fortran_order': False, "
                         "'shape': (), }",
                         std::string(62, ' '), "\n", Bytes<float>({1})));
}

TEST(NpyTest, SerializeNpyAlignsDataTo64Bytes) {
  const std::vector<std::vector<int64_t>> shapes = {
      {}, {0}, {1}, {3, 4}, {1000000, 0, 7}, {1, 2, 3, 4, 5, 6, 7, 8}};
  const std::vector<float> zeros(40320);  // 8!, the largest shape's size.
  for (const std::vector<int64_t>& shape : shapes) {
    const std::string bytes = util::SerializeNpy(shape, zeros.data());
    ASSERT_GE(bytes.size(), 10);
    const size_t header_size = static_cast<uint8_t>(bytes[8]) | static_cast<uint8_t>(bytes[9]) << 8;
    EXPECT_EQ((10 + header_size) % 64, 0);
    EXPECT_EQ(bytes[9 + header_size], '\n');
  }
}

TEST(NpyTest, RoundTripsThroughFile) {
  const std::string path = TempPath("round_trip.npy");
  const float data[] = {0.5f, -0.0f, 1e-40f, 3.4e38f, -7, 42};
  ASSERT_TRUE(util::WriteNpy(path, {2, 3}, data).ok());
  absl::StatusOr<util::NpyArray> array = util::ReadNpy(path);
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_EQ(array->kind, util::NpyArray::Kind::kFloat);
  EXPECT_THAT(array->shape, ElementsAre(2, 3));
  EXPECT_THAT(array->floats, ElementsAre(0.5f, -0.0f, 1e-40f, 3.4e38f, -7, 42));
  EXPECT_TRUE(std::signbit(array->floats[1]));
  EXPECT_THAT(array->integers, IsEmpty());
  std::filesystem::remove(path);
}

TEST(NpyTest, RoundTripsScalarAndEmptyArrays) {
  const float scalar = 2.5f;
  absl::StatusOr<util::NpyArray> array = Parse(util::SerializeNpy({}, &scalar));
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_THAT(array->shape, IsEmpty());
  EXPECT_THAT(array->floats, ElementsAre(2.5f));

  array = Parse(util::SerializeNpy({4, 0}, nullptr));
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_THAT(array->shape, ElementsAre(4, 0));
  EXPECT_THAT(array->floats, IsEmpty());
}

TEST(NpyTest, ReadsVersion2And3Headers) {
  for (int major : {2, 3}) {
    absl::StatusOr<util::NpyArray> array =
        Parse(Npy(Dict("<f4", "(2,)"), Bytes<float>({1, 2}), major));
    ASSERT_TRUE(array.ok()) << major << ": " << array.status();
    EXPECT_THAT(array->floats, ElementsAre(1.0f, 2.0f));
  }
}

TEST(NpyTest, ReadsF2IncludingSubnormals) {
  absl::StatusOr<util::NpyArray> array =
      Parse(Npy(Dict("<f2", "(4,)"), Bytes<uint16_t>({0x3c00, 0xc000, 0x0001, 0x7c00})));
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_THAT(array->floats, ElementsAre(1.0f, -2.0f, std::ldexp(1.0f, -24),
                                         std::numeric_limits<float>::infinity()));
}

TEST(NpyTest, ReadsF8) {
  absl::StatusOr<util::NpyArray> array =
      Parse(Npy(Dict("<f8", "(3,)"), Bytes<double>({0.1, -1e-300, 3e38})));
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_EQ(array->kind, util::NpyArray::Kind::kFloat);
  EXPECT_THAT(array->floats, ElementsAre(0.1f, -0.0f, 3e38f));
}

TEST(NpyTest, ReadsEveryIntegerDtype) {
  struct Case {
    std::string descr;
    std::string data;
    std::vector<int64_t> want;
  };
  const int64_t min64 = std::numeric_limits<int64_t>::min();
  const int64_t max64 = std::numeric_limits<int64_t>::max();
  const std::vector<Case> cases = {
      {"|i1", Bytes<int8_t>({-128, 127}), {-128, 127}},
      {"<i2", Bytes<int16_t>({-32768, 32767}), {-32768, 32767}},
      {"<i4", Bytes<int32_t>({-2147483647 - 1, 7}), {-2147483648LL, 7}},
      {"<i8", Bytes<int64_t>({min64, max64}), {min64, max64}},
      {"|u1", Bytes<uint8_t>({0, 255}), {0, 255}},
      {"<u2", Bytes<uint16_t>({1, 65535}), {1, 65535}},
      {"<u4", Bytes<uint32_t>({2, 4294967295u}), {2, 4294967295LL}},
      {"<u8", Bytes<uint64_t>({3, uint64_t{1} << 63 >> 1}), {3, int64_t{1} << 62}},
  };
  for (const Case& c : cases) {
    absl::StatusOr<util::NpyArray> array = Parse(Npy(Dict(c.descr, "(2,)"), c.data));
    ASSERT_TRUE(array.ok()) << c.descr << ": " << array.status();
    EXPECT_EQ(array->kind, util::NpyArray::Kind::kInteger) << c.descr;
    EXPECT_THAT(array->shape, ElementsAre(2));
    EXPECT_EQ(array->integers, c.want) << c.descr;
    EXPECT_THAT(array->floats, IsEmpty());
  }
}

TEST(NpyTest, RefusesU8AboveInt64Max) {
  absl::Status status = ParseStatus(
      Npy(Dict("<u8", "(2,)"), Bytes<uint64_t>({1, std::numeric_limits<uint64_t>::max()})));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("18446744073709551615"));
  EXPECT_THAT(status.message(), HasSubstr("flat index 1"));
  EXPECT_THAT(status.message(), HasSubstr("does not fit in int64"));
}

TEST(NpyTest, RefusesF8OutsideFloatRange) {
  absl::Status status = ParseStatus(Npy(Dict("<f8", "(2,)"), Bytes<double>({1, 1e39})));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("value 1e+39 at flat index 1"));
  EXPECT_THAT(status.message(), HasSubstr("outside float32 range"));
}

TEST(NpyTest, ParsesHeaderDictsWrittenAnyWay) {
  for (absl::string_view dict : {
           "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
           "{'shape': (3,), 'fortran_order': False, 'descr': '<f4'}",
           "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (3,)}",
           "{'descr':'<f4','fortran_order':False,'shape':(3,)}",
           "  {\t'descr' : '<f4' ,\n 'fortran_order' : False , 'shape' : ( 3 , "
           ") , }"
           "          \n",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (3L,), }\n",
       }) {
    absl::StatusOr<util::NpyArray> array = Parse(Npy(dict, Bytes<float>({1, 2, 3})));
    ASSERT_TRUE(array.ok()) << dict << ": " << array.status();
    EXPECT_THAT(array->shape, ElementsAre(3)) << dict;
    EXPECT_THAT(array->floats, ElementsAre(1.0f, 2.0f, 3.0f)) << dict;
  }
}

TEST(NpyTest, ParsesShapeTuples) {
  struct Case {
    std::string shape;
    std::vector<int64_t> want;
  };
  for (const Case& c : std::vector<Case>{{"()", {}},
                                         {"(3,)", {3}},
                                         {"(3, 1)", {3, 1}},
                                         {"(1, 3, 1, 1)", {1, 3, 1, 1}},
                                         {"(1,3,)", {1, 3}},
                                         {"(0, 5)", {0, 5}}}) {
    const int64_t count = c.shape == "(0, 5)" ? 0 : 3;
    const std::string data = c.shape == "()" ? Bytes<float>({1})
                             : count == 0    ? ""
                                             : Bytes<float>({1, 2, 3});
    absl::StatusOr<util::NpyArray> array = Parse(Npy(Dict("<f4", c.shape), data));
    ASSERT_TRUE(array.ok()) << c.shape << ": " << array.status();
    EXPECT_EQ(array->shape, c.want) << c.shape;
  }
}

TEST(NpyTest, RefusesBigEndian) {
  absl::Status status = ParseStatus(Npy(Dict(">f4", "(3,)"), Bytes<float>({1, 2, 3})));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(kSource));
  EXPECT_THAT(status.message(), HasSubstr("'>f4' is big-endian"));
}

TEST(NpyTest, RefusesFortranOrder) {
  absl::Status status = DictStatus("{'descr': '<f4', 'fortran_order': True, 'shape': (3,), }");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("fortran_order is True"));
  EXPECT_THAT(status.message(), HasSubstr("want a C-order array"));
}

TEST(NpyTest, RefusesBoolArrays) {
  absl::Status status = ParseStatus(Npy(Dict("|b1", "(3,)"), "\1\0\1"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("'|b1' is bool"));
}

TEST(NpyTest, RefusesObjectArrays) {
  absl::Status status = DictStatus(Dict("|O", "(3,)"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("'|O' is an object array"));
}

TEST(NpyTest, RefusesStructuredDtypes) {
  absl::Status status = DictStatus(
      "{'descr': [('x', '<f4'), ('y', '<f4')], 'fortran_order': False, "
      "'shape': (3,), }");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("structured dtype"));
}

TEST(NpyTest, RefusesUnsupportedDtypes) {
  for (absl::string_view descr : {"<c8", "|S3", "<U1", "<M8[ns]", "<f16", "f4", "=f4", "<i1", ""}) {
    absl::Status status = DictStatus(Dict(descr, "(3,)"));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << descr;
    EXPECT_THAT(status.message(), HasSubstr(absl::StrCat("dtype '", descr, "' is not supported")));
    EXPECT_THAT(status.message(), HasSubstr("<f2 <f4 <f8"));
  }
}

TEST(NpyTest, RefusesWrongMagic) {
  absl::Status status = ParseStatus("PK\3\4 this is a zip file");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("not a .npy file"));
  EXPECT_THAT(status.message(), HasSubstr("PK\\x03\\x04"));
}

TEST(NpyTest, RefusesFileShorterThanPreamble) {
  for (const std::string& bytes :
       {std::string(""), std::string("\x93NUM"), std::string("\x93NUMPY\x01", 7)}) {
    absl::Status status = ParseStatus(bytes);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("not a .npy file"));
  }
  absl::Status status = ParseStatus(std::string("\x93NUMPY\x01\x00\x05", 9));
  EXPECT_THAT(status.message(), HasSubstr("file is 9 bytes"));
  EXPECT_THAT(status.message(), HasSubstr("10-byte preamble"));
  status = ParseStatus(std::string("\x93NUMPY\x02\x00\x05\x00\x00", 11));
  EXPECT_THAT(status.message(), HasSubstr("file is 11 bytes"));
  EXPECT_THAT(status.message(), HasSubstr("12-byte preamble"));
}

TEST(NpyTest, RefusesUnsupportedVersion) {
  for (auto [major, minor] : {std::pair{0, 0}, {4, 0}, {1, 1}}) {
    std::string bytes = Npy(Dict("<f4", "(3,)"), Bytes<float>({1, 2, 3}));
    bytes[6] = static_cast<char>(major);
    bytes[7] = static_cast<char>(minor);
    absl::Status status = ParseStatus(bytes);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(),
                HasSubstr(absl::StrCat("version ", major, ".", minor, " is not supported")));
  }
}

TEST(NpyTest, RefusesHeaderLengthPastEndOfFile) {
  std::string bytes = Npy(Dict("<f4", "(1,)"), "");
  bytes[8] = '\xff';
  bytes[9] = '\x7f';
  absl::Status status = ParseStatus(bytes);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("header length is 32767 bytes"));
  EXPECT_THAT(status.message(), HasSubstr(absl::StrCat("only ", bytes.size() - 10,
                                                       " bytes follow the 10-byte preamble")));

  std::string v2 = Npy("{}", "", 2);
  v2.replace(8, 4, "\xff\xff\xff\xff");
  status = ParseStatus(v2);
  EXPECT_THAT(status.message(), HasSubstr("header length is 4294967295 bytes"));
}

TEST(NpyTest, RefusesMalformedHeaderDicts) {
  for (absl::string_view dict : {
           "",
           "{",
           "{'descr': '<f4'",
           "{'descr' '<f4'}",
           "{'descr': '<f4' 'shape': ()}",
           "{'descr: '<f4'}",
           "{1: 2}",
           "{'descr': '<f4', 'fortran_order': Nope, 'shape': ()}",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (3 4)}",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)} extra",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (-,)}",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (,)}",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)",
           "{,}",
           "\xff\x93",
       }) {
    absl::Status status = DictStatus(dict);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << dict;
    EXPECT_THAT(status.message(), HasSubstr("not a Python dict literal")) << dict;
    EXPECT_THAT(status.message(), HasSubstr(kSource));
  }
}

TEST(NpyTest, RefusesHeaderThatIsNotADict) {
  absl::Status status = DictStatus("[1, 2]");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("header is a list; want a dict"));
}

TEST(NpyTest, RefusesDeeplyNestedHeaderWithoutRecursingForever) {
  const std::string dict =
      absl::StrCat("{'descr': '<f4', 'fortran_order': False, 'shape': ", std::string(1000, '('),
                   "3", std::string(1000, ')'), "}");
  absl::Status status = DictStatus(dict);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("nested less deeply"));
}

TEST(NpyTest, RefusesMissingUnexpectedAndRepeatedKeys) {
  struct Case {
    std::string dict;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{
           {"{'descr': '<f4', 'shape': (3,)}", "no 'fortran_order'"},
           {"{'fortran_order': False, 'shape': (3,)}", "no 'descr'"},
           {"{'descr': '<f4', 'fortran_order': False}", "no 'shape'"},
           {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), "
            "'order': 'C'}",
            "unexpected key 'order'"},
           {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
            "'shape': (3,)}",
            "repeats key 'descr'"},
       }) {
    absl::Status status = DictStatus(c.dict);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.dict;
    EXPECT_THAT(status.message(), HasSubstr(c.want));
  }
}

TEST(NpyTest, RefusesWrongTypedValues) {
  struct Case {
    std::string dict;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{
           {"{'descr': 4, 'fortran_order': False, 'shape': (3,)}",
            "'descr' is an int; want a dtype string"},
           {"{'descr': '<f4', 'fortran_order': 0, 'shape': (3,)}",
            "'fortran_order' is an int; want False"},
           {"{'descr': '<f4', 'fortran_order': None, 'shape': (3,)}",
            "'fortran_order' is None; want False"},
           {Dict("<f4", "3"), "'shape' is an int; want a tuple"},
           {Dict("<f4", "(3)"), "'shape' is an int; want a tuple"},
           {Dict("<f4", "[3]"), "'shape' is a list; want a tuple"},
           {Dict("<f4", "('3',)"), "'shape'[0] is a string"},
           {Dict("<f4", "(1, True)"), "'shape'[1] is a bool"},
       }) {
    absl::Status status = DictStatus(c.dict);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.dict;
    EXPECT_THAT(status.message(), HasSubstr(c.want));
  }
}

TEST(NpyTest, RefusesNegativeAndHugeDims) {
  absl::Status status = DictStatus(Dict("<f4", "(3, -1)"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("'shape'[1] is -1; want >= 0"));

  status = DictStatus(Dict("<f4", "(99999999999999999999,)"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("'shape'[0] is 99999999999999999999"));
}

TEST(NpyTest, RefusesShapeWhoseSizeOverflows) {
  for (absl::string_view shape : {"(4294967296, 4294967296, 4)", "(4611686018427387904,)"}) {
    absl::Status status = DictStatus(Dict("<f4", shape));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << shape;
    EXPECT_THAT(status.message(), HasSubstr("needs more than 2^63 - 1 bytes"));
  }
}

TEST(NpyTest, RefusesTruncatedDataWithBothSizes) {
  absl::Status status = ParseStatus(Npy(Dict("<f4", "(2, 2)"), Bytes<float>({1, 2, 3})));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("data is 12 bytes"));
  EXPECT_THAT(status.message(), HasSubstr("shape [2, 2] of '<f4' needs 16"));
  EXPECT_THAT(status.message(), HasSubstr("truncated"));
}

TEST(NpyTest, RefusesTrailingData) {
  absl::Status status = ParseStatus(Npy(Dict("<i2", "(1,)"), Bytes<int16_t>({1, 2})));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("data is 4 bytes"));
  EXPECT_THAT(status.message(), HasSubstr("needs 2"));
}

TEST(NpyTest, SurvivesTruncationAndCorruption) {
  const float data[] = {1, 2, 3, 4, 5, 6};
  const std::string valid = util::SerializeNpy({2, 3}, data);
  ASSERT_TRUE(ParseStatus(valid).ok());
  for (size_t n = 0; n < valid.size(); ++n) {
    EXPECT_FALSE(ParseStatus(valid.substr(0, n)).ok()) << n;
  }
  for (size_t i = 0; i < valid.size(); ++i) {
    for (char c : {'\0', '\xff', '\'', '(', '9', '-', '}', ',', ' ', '\\'}) {
      std::string corrupt = valid;
      corrupt[i] = c;
      absl::Status status = ParseStatus(corrupt);
      if (!status.ok()) {
        EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << i;
      }
    }
  }
}

TEST(NpyTest, ReadNpyOfMissingFileIsNotFound) {
  const std::string path = TempPath("missing.npy");
  absl::Status status = util::ReadNpy(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr(path));
}

TEST(NpyTest, WriteNpyRefusesBadArguments) {
  const float data[] = {1};
  absl::Status status = util::WriteNpy(TempPath("bad.npy"), {2, -1}, data);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("has dim 1 = -1"));

  status = util::WriteNpy(TempPath("bad.npy"), {2}, nullptr);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("data is null"));
}

TEST(NpyTest, WriteNpyReportsUnwritablePath) {
  const std::string path = TempPath("no_such_dir/out.npy");
  const float data[] = {1};
  absl::Status status = util::WriteNpy(path, {1}, data);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr(path));
}

// The bundled demo models' sample inputs, which `rnnserve-cli stream --input`
// reads: float32 [50, 1] and int64 token ids [43].
TEST(NpyTest, ReadsTheDemoSampleInputs) {
  absl::StatusOr<NpyArray> a =
      ReadNpy(std::string(RNNSERVE_SOURCE_DIR) + "/models/forecast/1/sample_input.npy");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(a->shape, ElementsAre(50, 1));
  EXPECT_EQ(a->kind, NpyArray::Kind::kFloat);
  a = ReadNpy(std::string(RNNSERVE_SOURCE_DIR) + "/models/charlm/1/sample_input.npy");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(a->shape, ElementsAre(43));
  ASSERT_EQ(a->kind, NpyArray::Kind::kInteger);
  EXPECT_EQ(a->integers[0], 43);  // 'I' is id 2 + 0x49 - 0x20
}

}  // namespace
}  // namespace rnnserve::util
