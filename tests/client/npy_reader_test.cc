#include "client/npy_reader.h"

#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/cli_test_util.h"

namespace rnnserve::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A version-1.0 .npy of `dtype` with `shape` and the raw `data`.
std::string Npy(const std::string& dtype, const std::string& shape, const std::string& data,
                const std::string& fortran = "False") {
  std::string header =
      "{'descr': '" + dtype + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
  header.append(64 - (10 + header.size() + 1) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
}

template <typename T>
std::string Bytes(std::initializer_list<T> values) {
  std::string out;
  for (T v : values) out.append(reinterpret_cast<const char*>(&v), sizeof(T));
  return out;
}

TEST(NpyReader, DemoSampleFiles) {
  absl::StatusOr<NpyArray> a = ReadNpy(testing::SourcePath("models/forecast/1/sample_input.npy"));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(a->shape, ElementsAre(50, 1));
  EXPECT_FALSE(a->integer);
  a = ReadNpy(testing::SourcePath("models/charlm/1/sample_input.npy"));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(a->shape, ElementsAre(43));
  EXPECT_TRUE(a->integer);
  EXPECT_EQ(a->ints[0], 43);  // 'I' is id 2 + 0x49 - 0x20
}

TEST(NpyReader, Dtypes) {
  absl::StatusOr<NpyArray> a = ParseNpy(Npy("<f8", "(2,)", Bytes<double>({1.5, -2})), "t");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(a->floats, ElementsAre(1.5, -2));
  a = ParseNpy(Npy("<i4", "(3, 1)", Bytes<int32_t>({7, -1, 0})), "t");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(a->ints, ElementsAre(7, -1, 0));
  a = ParseNpy(Npy("|u1", "(2,)", "\xff\x01"), "t");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(a->ints, ElementsAre(255, 1));
  a = ParseNpy(Npy("<f2", "(2,)", Bytes<uint16_t>({0x3c00, 0xc000})), "t");  // 1, -2
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(a->floats, ElementsAre(1, -2));
  a = ParseNpy(Npy("<f4", "()", Bytes<float>({3})), "t");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(a->shape.empty());
  EXPECT_EQ(a->size(), 1);
}

TEST(NpyReader, RefusesWhatItCannotRead) {
  EXPECT_THAT(ParseNpy("garbage", "g").status().message(), HasSubstr("g: not a .npy file"));
  EXPECT_THAT(ParseNpy(Npy(">f4", "(1,)", "abcd"), "t").status().message(),
              HasSubstr("big-endian"));
  EXPECT_THAT(
      ParseNpy(Npy("<f4", "(2, 2)", Bytes<float>({1, 2, 3, 4}), "True"), "t").status().message(),
      HasSubstr("Fortran"));
  EXPECT_THAT(ParseNpy(Npy("<f4", "(3,)", Bytes<float>({1, 2})), "t").status().message(),
              HasSubstr("truncated data"));
  EXPECT_THAT(ParseNpy(Npy("<c8", "(1,)", "12345678"), "t").status().message(),
              HasSubstr("not supported"));
  EXPECT_EQ(ReadNpy("/nonexistent/x.npy").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace rnnserve::client
