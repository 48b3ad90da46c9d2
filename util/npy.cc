#include "util/npy.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "util/byte_order.h"
#include "util/file.h"
#include "util/half_float.h"
#include "util/npy_header.h"
#include "util/shape.h"
#include "util/status_macros.h"

namespace rnnserve::util {
namespace {

constexpr absl::string_view kMagic("\x93NUMPY", 6);
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
// NumPy aligns the data to 64 bytes so it can be memory-mapped.
constexpr size_t kAlignment = 64;
// NumPy leaves room for the first axis to reach this many digits.
constexpr size_t kGrowthAxisMaxDigits = 21;

template <typename... Args>
absl::Status Invalid(absl::string_view source, const Args&... args) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", args...));
}

// The product of `shape`, or nullopt past 2^63 - 1. REQUIRES: dims >= 0.
std::optional<int64_t> CheckedProduct(const std::vector<int64_t>& shape) {
  for (int64_t dim : shape) {
    if (dim == 0) return 0;
  }
  int64_t product = 1;
  for (int64_t dim : shape) {
    if (product > kInt64Max / dim) return std::nullopt;
    product *= dim;
  }
  return product;
}

enum class Element { kF2, kF4, kF8, kI1, kI2, kI4, kI8, kU1, kU2, kU4, kU8 };

struct ElementType {
  absl::string_view descr;
  Element element;
  NpyArray::Kind kind;
  int64_t size;
};

constexpr ElementType kElementTypes[] = {
    {"<f2", Element::kF2, NpyArray::Kind::kFloat, 2},
    {"<f4", Element::kF4, NpyArray::Kind::kFloat, 4},
    {"<f8", Element::kF8, NpyArray::Kind::kFloat, 8},
    {"|i1", Element::kI1, NpyArray::Kind::kInteger, 1},
    {"<i2", Element::kI2, NpyArray::Kind::kInteger, 2},
    {"<i4", Element::kI4, NpyArray::Kind::kInteger, 4},
    {"<i8", Element::kI8, NpyArray::Kind::kInteger, 8},
    {"|u1", Element::kU1, NpyArray::Kind::kInteger, 1},
    {"<u2", Element::kU2, NpyArray::Kind::kInteger, 2},
    {"<u4", Element::kU4, NpyArray::Kind::kInteger, 4},
    {"<u8", Element::kU8, NpyArray::Kind::kInteger, 8},
};

absl::StatusOr<ElementType> FindElementType(const std::string& descr, absl::string_view source) {
  for (const ElementType& type : kElementTypes) {
    if (type.descr == descr) return type;
  }
  const std::string shown = Printable(descr);
  if (!descr.empty() && descr[0] == '>') {
    return Invalid(source, "dtype '", shown,
                   "' is big-endian; want "
                   "little-endian (a.astype(a.dtype.newbyteorder('<')))");
  }
  if (descr == "|b1" || descr == "?" || descr == "<b1") {
    return Invalid(source, "dtype '", shown,
                   "' is bool; bool arrays are "
                   "not supported, want a float or int dtype");
  }
  if (descr.find('O') != std::string::npos) {
    return Invalid(source, "dtype '", shown,
                   "' is an object array; want a "
                   "float or int dtype");
  }
  return Invalid(source, "dtype '", shown, "' is not supported; want one of ",
                 "<f2 <f4 <f8 |i1 <i2 <i4 <i8 |u1 <u2 <u4 <u8");
}

absl::Status ConvertFloats(const ElementType& type, const char* p, size_t n,
                           absl::string_view source, std::vector<float>& out) {
  out.resize(n);
  for (size_t i = 0; i < n; ++i) {
    switch (type.element) {
      case Element::kF2:
        out[i] = HalfToFloat(LoadU16(p + 2 * i));
        break;
      case Element::kF4:
        out[i] = std::bit_cast<float>(LoadU32(p + 4 * i));
        break;
      default: {  // kF8
        const double d = std::bit_cast<double>(LoadU64(p + 8 * i));
        // Narrowing a finite double beyond float's range is undefined.
        if (std::isfinite(d) && std::fabs(d) > std::numeric_limits<float>::max()) {
          return Invalid(source, "value ", d, " at flat index ", i, " is outside float32 range");
        }
        out[i] = static_cast<float>(d);
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ConvertIntegers(const ElementType& type, const char* p, size_t n,
                             absl::string_view source, std::vector<int64_t>& out) {
  out.resize(n);
  for (size_t i = 0; i < n; ++i) {
    switch (type.element) {
      case Element::kI1:
        out[i] = static_cast<int8_t>(p[i]);
        break;
      case Element::kI2:
        out[i] = static_cast<int16_t>(LoadU16(p + 2 * i));
        break;
      case Element::kI4:
        out[i] = static_cast<int32_t>(LoadU32(p + 4 * i));
        break;
      case Element::kI8:
        out[i] = static_cast<int64_t>(LoadU64(p + 8 * i));
        break;
      case Element::kU1:
        out[i] = static_cast<uint8_t>(p[i]);
        break;
      case Element::kU2:
        out[i] = LoadU16(p + 2 * i);
        break;
      case Element::kU4:
        out[i] = LoadU32(p + 4 * i);
        break;
      default: {  // kU8
        const uint64_t u = LoadU64(p + 8 * i);
        if (u > static_cast<uint64_t>(kInt64Max)) {
          return Invalid(source, "<u8 value ", u, " at flat index ", i, " does not fit in int64");
        }
        out[i] = static_cast<int64_t>(u);
      }
    }
  }
  return absl::OkStatus();
}

// The header dict's text as it sits in the file, after the preamble.
absl::StatusOr<absl::string_view> HeaderText(absl::string_view bytes, absl::string_view source,
                                             size_t& data_offset) {
  if (bytes.size() < 8 || bytes.substr(0, 6) != kMagic) {
    return Invalid(source,
                   "not a .npy file: want the magic \\x93NUMPY "
                   "and a version in the first 8 bytes, found '",
                   Printable(bytes.substr(0, 8)), "'");
  }
  const int major = static_cast<uint8_t>(bytes[6]);
  const int minor = static_cast<uint8_t>(bytes[7]);
  if (major < 1 || major > 3 || minor != 0) {
    return Invalid(source, ".npy format version ", major, ".", minor,
                   " is not supported; want 1.0, 2.0 or 3.0");
  }
  const size_t preamble = major == 1 ? 10 : 12;
  if (bytes.size() < preamble) {
    return Invalid(source, "file is ", bytes.size(), " bytes; a version ", major,
                   ".0 file starts with a ", preamble, "-byte preamble");
  }
  const uint64_t header_size = major == 1 ? LoadU16(bytes.data() + 8) : LoadU32(bytes.data() + 8);
  if (header_size > bytes.size() - preamble) {
    return Invalid(source, "header length is ", header_size, " bytes but only ",
                   bytes.size() - preamble, " bytes follow the ", preamble, "-byte preamble");
  }
  data_offset = preamble + header_size;
  return bytes.substr(preamble, header_size);
}

std::string ShapeTuple(const std::vector<int64_t>& shape) {
  if (shape.size() == 1) return absl::StrCat("(", shape[0], ",)");
  return absl::StrCat("(", absl::StrJoin(shape, ", "), ")");
}

}  // namespace

absl::StatusOr<NpyArray> ReadNpy(const std::string& path) {
  RNN_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  return ParseNpy(bytes, path);
}

absl::StatusOr<NpyArray> ParseNpy(absl::string_view bytes, absl::string_view source) {
  size_t data_offset = 0;
  RNN_ASSIGN_OR_RETURN(absl::string_view text, HeaderText(bytes, source, data_offset));
  absl::StatusOr<NpyHeader> header = ParseNpyHeader(text);
  if (!header.ok()) return Invalid(source, header.status().message());
  RNN_ASSIGN_OR_RETURN(ElementType type, FindElementType(header->descr, source));

  const absl::string_view data = bytes.substr(data_offset);
  const std::optional<int64_t> count = CheckedProduct(header->shape);
  if (!count.has_value() || *count > kInt64Max / type.size) {
    return Invalid(source, "shape ", ShapeToString(header->shape), " of '", type.descr,
                   "' needs more than 2^63 - 1 bytes");
  }
  const int64_t want = *count * type.size;
  if (data.size() != static_cast<uint64_t>(want)) {
    return Invalid(source, "data is ", data.size(), " bytes; shape ", ShapeToString(header->shape),
                   " of '", type.descr, "' needs ", want,
                   data.size() < static_cast<uint64_t>(want) ? " (truncated)" : "");
  }

  NpyArray array;
  array.kind = type.kind;
  array.shape = std::move(header->shape);
  const size_t n = static_cast<size_t>(*count);
  if (type.kind == NpyArray::Kind::kFloat) {
    RNN_RETURN_IF_ERROR(ConvertFloats(type, data.data(), n, source, array.floats));
  } else {
    RNN_RETURN_IF_ERROR(ConvertIntegers(type, data.data(), n, source, array.integers));
  }
  return array;
}

std::string SerializeNpy(const std::vector<int64_t>& shape, const float* data) {
  // NumPy's own layout, byte for byte: sorted keys, room for the first axis
  // to grow to kGrowthAxisMaxDigits in place, then spaces and a newline up to
  // the alignment (a full 64 when already aligned, as NumPy pads).
  std::string dict =
      absl::StrCat("{'descr': '<f4', 'fortran_order': False, 'shape': ", ShapeTuple(shape), ", }");
  if (!shape.empty()) {
    const size_t digits = absl::StrCat(shape[0]).size();
    dict.append(kGrowthAxisMaxDigits - std::min(digits, kGrowthAxisMaxDigits), ' ');
  }
  const size_t unpadded = dict.size() + 1;  // With the final newline.
  const auto padding = [unpadded](size_t preamble) {
    return kAlignment - (preamble + unpadded) % kAlignment;
  };
  // Version 2.0 only when the header outgrows 1.0's u16 length, as NumPy.
  const bool v1 = unpadded + padding(10) <= std::numeric_limits<uint16_t>::max();
  const size_t header_size = unpadded + padding(v1 ? 10 : 12);
  // Not a running product: a legal shape such as (2^40, 2^40, 0) is empty,
  // yet its leading dims multiply past int64 (found by fuzz/npy_fuzzer).
  const bool empty = std::any_of(shape.begin(), shape.end(), [](int64_t dim) { return dim <= 0; });
  const std::optional<int64_t> product = empty ? std::optional<int64_t>(0) : CheckedProduct(shape);
  if (!product.has_value()) {
    // A broken REQUIRES; util/ links no logging library, so no CHECK.
    std::fprintf(stderr, "SerializeNpy: shape %s has more elements than `data` can hold\n",
                 ShapeToString(shape).c_str());
    std::abort();
  }
  const int64_t count = *product;

  std::string out(kMagic);
  out.push_back(v1 ? 1 : 2);
  out.push_back(0);
  AppendLe(header_size, v1 ? 2 : 4, out);
  out += dict;
  out.append(header_size - unpadded, ' ');
  out.push_back('\n');
  if constexpr (std::endian::native == std::endian::little) {
    const size_t data_offset = out.size();
    out.resize(data_offset + static_cast<size_t>(count) * sizeof(float));
    if (count > 0) {
      std::memcpy(out.data() + data_offset, data, static_cast<size_t>(count) * sizeof(float));
    }
  } else {
    for (int64_t i = 0; i < count; ++i) {
      AppendLe(std::bit_cast<uint32_t>(data[i]), 4, out);
    }
  }
  return out;
}

absl::Status WriteNpy(const std::string& path, const std::vector<int64_t>& shape,
                      const float* data) {
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": shape ", ShapeToString(shape), " has dim ", i, " = ", shape[i], "; want >= 0"));
    }
  }
  const std::optional<int64_t> count = CheckedProduct(shape);
  if (!count.has_value() || *count > kInt64Max / 4) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": shape ", ShapeToString(shape), " is too large to write"));
  }
  if (data == nullptr && *count > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": data is null for shape ", ShapeToString(shape)));
  }
  return WriteStringToFile(path, SerializeNpy(shape, data));
}

}  // namespace rnnserve::util
