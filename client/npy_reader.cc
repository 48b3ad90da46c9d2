#include "client/npy_reader.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace rnnserve::client {
namespace {

constexpr absl::string_view kMagic("\x93NUMPY", 6);

uint64_t LoadLittleEndian(const char* in, int bytes) {
  uint64_t value = 0;
  for (int b = bytes - 1; b >= 0; --b) value = (value << 8) | static_cast<uint8_t>(in[b]);
  return value;
}

// IEEE 754 binary16 to double, subnormals and infinities included.
double HalfToDouble(uint16_t h) {
  const int sign = h >> 15;
  const int exponent = (h >> 10) & 0x1f;
  const int mantissa = h & 0x3ff;
  double value;
  if (exponent == 0) {
    value = std::ldexp(mantissa, -24);
  } else if (exponent == 31) {
    value = mantissa == 0 ? INFINITY : NAN;
  } else {
    value = std::ldexp(mantissa + 1024, exponent - 25);
  }
  return sign ? -value : value;
}

// The value of `key` in the header dict "{'descr': '<f4', 'fortran_order':
// False, 'shape': (3, 4), }": the text up to the next top-level comma.
absl::StatusOr<std::string> HeaderValue(absl::string_view header, absl::string_view key,
                                        absl::string_view name) {
  const std::string quoted = absl::StrCat("'", key, "'");
  size_t at = header.find(quoted);
  if (at == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": .npy header has no ", quoted));
  }
  at = header.find(':', at + quoted.size());
  if (at == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": malformed .npy header"));
  }
  absl::string_view rest = absl::StripLeadingAsciiWhitespace(header.substr(at + 1));
  size_t end = 0;
  if (!rest.empty() && rest[0] == '(') {
    end = rest.find(')');
    if (end == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": malformed .npy shape"));
    }
    ++end;
  } else {
    end = std::min(rest.find(','), rest.find('}'));
  }
  return std::string(absl::StripAsciiWhitespace(rest.substr(0, end)));
}

}  // namespace

int64_t NpyArray::size() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

absl::StatusOr<NpyArray> ParseNpy(absl::string_view bytes, absl::string_view name) {
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": ", what));
  };
  if (bytes.size() < 10 || bytes.substr(0, 6) != kMagic) return bad("not a .npy file");
  const int major = static_cast<uint8_t>(bytes[6]);
  if (major < 1 || major > 3) return bad(absl::StrCat(".npy version ", major, " is not 1 to 3"));
  const int length_bytes = major == 1 ? 2 : 4;
  const size_t header_start = 8 + length_bytes;
  if (bytes.size() < header_start) return bad("truncated .npy header");
  const uint64_t header_length = LoadLittleEndian(bytes.data() + 8, length_bytes);
  if (header_start + header_length > bytes.size()) return bad("truncated .npy header");
  const absl::string_view header = bytes.substr(header_start, header_length);
  const absl::string_view data = bytes.substr(header_start + header_length);

  absl::StatusOr<std::string> descr = HeaderValue(header, "descr", name);
  absl::StatusOr<std::string> fortran = HeaderValue(header, "fortran_order", name);
  absl::StatusOr<std::string> shape_text = HeaderValue(header, "shape", name);
  for (const auto* s : {&descr, &fortran, &shape_text}) {
    if (!s->ok()) return s->status();
  }
  if (*fortran != "False") return bad("Fortran-order arrays are not supported; save in C order");
  const std::string dtype(absl::StripSuffix(absl::StripPrefix(*descr, "'"), "'"));
  if (dtype.size() < 3) return bad(absl::StrCat("unsupported dtype ", *descr));
  if (dtype[0] == '>') {
    return bad(absl::StrCat("big-endian dtype ", dtype, " is not supported; save little-endian"));
  }
  const char kind = dtype[1];
  int item = 0;
  if (!absl::SimpleAtoi(dtype.substr(2), &item) ||
      (dtype[0] != '<' && dtype[0] != '|' && dtype[0] != '=')) {
    return bad(absl::StrCat("unsupported dtype ", dtype));
  }
  const bool known =
      (kind == 'f' && (item == 2 || item == 4 || item == 8)) ||
      ((kind == 'i' || kind == 'u') && (item == 1 || item == 2 || item == 4 || item == 8));
  if (!known) {
    return bad(absl::StrCat("dtype ", dtype, " is not supported: want float16/32/64 or integers"));
  }

  NpyArray array;
  const absl::string_view dims = absl::StripSuffix(absl::StripPrefix(*shape_text, "("), ")");
  for (absl::string_view d : absl::StrSplit(dims, ',', absl::SkipWhitespace())) {
    int64_t n;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(d), &n) || n < 0) {
      return bad(absl::StrCat("bad shape ", *shape_text));
    }
    array.shape.push_back(n);
  }
  const int64_t count = array.size();
  if (count < 0 || static_cast<uint64_t>(count) * item > data.size()) {
    return bad(absl::StrCat("truncated data: shape ", *shape_text, " of ", dtype, " needs ",
                            count * item, " bytes, the file has ", data.size()));
  }
  array.integer = kind != 'f';
  if (array.integer) {
    array.ints.resize(count);
  } else {
    array.floats.resize(count);
  }
  for (int64_t i = 0; i < count; ++i) {
    const uint64_t raw = LoadLittleEndian(data.data() + i * item, item);
    if (kind == 'u') {
      array.ints[i] = static_cast<int64_t>(raw);
    } else if (kind == 'i') {
      // Sign-extend from `item` bytes.
      const int shift = 64 - 8 * item;
      array.ints[i] = static_cast<int64_t>(raw << shift) >> shift;
    } else if (item == 2) {
      array.floats[i] = HalfToDouble(static_cast<uint16_t>(raw));
    } else if (item == 4) {
      array.floats[i] = std::bit_cast<float>(static_cast<uint32_t>(raw));
    } else {
      array.floats[i] = std::bit_cast<double>(raw);
    }
  }
  return array;
}

absl::StatusOr<NpyArray> ReadNpy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", path));
  return ParseNpy(contents.str(), path);
}

}  // namespace rnnserve::client
