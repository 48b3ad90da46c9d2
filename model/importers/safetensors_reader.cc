#include "model/importers/safetensors_reader.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <tuple>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "model/importers/json_syntax_error.h"
#include "nlohmann/json.hpp"
#include "util/byte_order.h"
#include "util/file.h"
#include "util/half_float.h"
#include "util/status_macros.h"

namespace rnnserve::model {
namespace {

using json = nlohmann::json;

constexpr absl::string_view kMetadataKey = "__metadata__";
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

enum class Dtype { kF32, kF16, kBF16, kF64 };

struct DtypeInfo {
  absl::string_view name;
  Dtype dtype;
  int64_t size;
};

constexpr DtypeInfo kDtypes[] = {
    {"F32", Dtype::kF32, 4},
    {"F16", Dtype::kF16, 2},
    {"BF16", Dtype::kBF16, 2},
    {"F64", Dtype::kF64, 8},
};

// A header entry checked against the data section, not yet converted.
struct Entry {
  std::string name;
  DtypeInfo dtype{};
  std::vector<int64_t> shape;
  int64_t num_elements = 0;
  uint64_t begin = 0;  // In the data section.
  uint64_t end = 0;
};

template <typename... Args>
absl::Status Invalid(absl::string_view source, const Args&... args) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", args...));
}

// `v` for a message: scalars as JSON (shortened), containers by type.
std::string Describe(const json& v) {
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  if (v.is_null()) return "null";
  std::string text = v.dump();  // Parsed text is valid UTF-8: no throw.
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

// A non-negative integer below 2^63 from `v`; `what` names it for messages.
absl::StatusOr<int64_t> NonNegativeInt(const json& v, absl::string_view source,
                                       absl::string_view what) {
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(kInt64Max)) {
      return Invalid(source, what, " is ", u, "; want at most 2^63 - 1");
    }
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer() && v.get<int64_t>() < 0) {
    return Invalid(source, what, " is ", v.get<int64_t>(), "; want >= 0");
  }
  return Invalid(source, what, " is ", Describe(v),
                 "; want a non-negative integer");
}

absl::StatusOr<DtypeInfo> FindDtype(const json& entry, absl::string_view source,
                                    absl::string_view where) {
  auto it = entry.find("dtype");
  if (it == entry.end()) return Invalid(source, where, ": missing \"dtype\"");
  if (!it->is_string()) {
    return Invalid(source, where, ": \"dtype\" is ", Describe(*it),
                   "; want a string such as \"F32\"");
  }
  const std::string& name = it->get_ref<const std::string&>();
  for (const DtypeInfo& info : kDtypes) {
    if (info.name == name) return info;
  }
  return Invalid(source, where, " has dtype ", name,
                 "; supported dtypes are F32, F16, BF16 and F64");
}

absl::Status ParseShape(const json& entry, absl::string_view source,
                        absl::string_view where, Entry& out) {
  auto it = entry.find("shape");
  if (it == entry.end()) return Invalid(source, where, ": missing \"shape\"");
  if (!it->is_array()) {
    return Invalid(source, where, ": \"shape\" is ", Describe(*it),
                   "; want an array of non-negative integers");
  }
  out.num_elements = 1;
  bool overflow = false;
  for (size_t i = 0; i < it->size(); ++i) {
    RNN_ASSIGN_OR_RETURN(
        int64_t dim, NonNegativeInt((*it)[i], source,
                                    absl::StrCat(where, ": shape[", i, "]")));
    out.shape.push_back(dim);
    if (dim != 0 && out.num_elements > kInt64Max / dim) overflow = true;
    out.num_elements = overflow ? 0 : out.num_elements * dim;
  }
  // A zero dim makes any product empty; only a non-empty overflow is an error.
  bool has_zero =
      std::find(out.shape.begin(), out.shape.end(), 0) != out.shape.end();
  if (overflow && !has_zero) {
    return Invalid(source, where, ": shape ", ShapeToString(out.shape),
                   " has more than 2^63 - 1 elements");
  }
  if (has_zero) out.num_elements = 0;
  return absl::OkStatus();
}

absl::Status ParseOffsets(const json& entry, absl::string_view source,
                          absl::string_view where, uint64_t data_size,
                          Entry& out) {
  auto it = entry.find("data_offsets");
  if (it == entry.end()) {
    return Invalid(source, where, ": missing \"data_offsets\"");
  }
  if (!it->is_array() || it->size() != 2) {
    std::string got = it->is_array() ? absl::StrCat("an array of ", it->size())
                                     : Describe(*it);
    return Invalid(source, where, ": \"data_offsets\" is ", got,
                   "; want [begin, end]");
  }
  RNN_ASSIGN_OR_RETURN(
      int64_t begin, NonNegativeInt((*it)[0], source,
                                    absl::StrCat(where, ": data_offsets[0]")));
  RNN_ASSIGN_OR_RETURN(
      int64_t end, NonNegativeInt((*it)[1], source,
                                  absl::StrCat(where, ": data_offsets[1]")));
  if (begin > end) {
    return Invalid(source, where, ": data_offsets [", begin, ", ", end,
                   "] begin after end; want begin <= end");
  }
  if (static_cast<uint64_t>(end) > data_size) {
    return Invalid(source, where, ": data_offsets end ", end,
                   " is past the end of the data section (", data_size,
                   " bytes)");
  }
  out.begin = static_cast<uint64_t>(begin);
  out.end = static_cast<uint64_t>(end);
  int64_t bytes = end - begin;
  if (out.num_elements > kInt64Max / out.dtype.size ||
      out.num_elements * out.dtype.size != bytes) {
    return Invalid(source, where, ": data_offsets [", begin, ", ", end,
                   "] hold ", bytes, " bytes; dtype ", out.dtype.name,
                   " shape ", ShapeToString(out.shape), " needs ",
                   out.num_elements, " x ", out.dtype.size, " bytes");
  }
  return absl::OkStatus();
}

absl::StatusOr<Entry> ParseEntry(const std::string& name, const json& value,
                                 absl::string_view source, uint64_t data_size) {
  std::string where = absl::StrCat("tensor '", name, "'");
  if (!value.is_object()) {
    return Invalid(source, where, ": entry is ", Describe(value),
                   "; want an object with dtype, shape and data_offsets");
  }
  Entry entry;
  entry.name = name;
  RNN_ASSIGN_OR_RETURN(entry.dtype, FindDtype(value, source, where));
  RNN_RETURN_IF_ERROR(ParseShape(value, source, where, entry));
  RNN_RETURN_IF_ERROR(ParseOffsets(value, source, where, data_size, entry));
  return entry;
}

absl::Status ParseMetadata(
    const json& value, absl::string_view source,
    absl::flat_hash_map<std::string, std::string>& metadata) {
  if (!value.is_object()) {
    return Invalid(source, "\"__metadata__\" is ", Describe(value),
                   "; want an object of strings");
  }
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) {
      return Invalid(source, "\"__metadata__\" entry '", key, "' is ",
                     Describe(item), "; want a string");
    }
    metadata[key] = item.get<std::string>();
  }
  return absl::OkStatus();
}

// Every byte belongs to at most one tensor; a file that says otherwise is
// corrupt or hostile. Empty tensors occupy no bytes.
absl::Status CheckNoOverlap(std::vector<const Entry*> entries,
                            absl::string_view source) {
  std::sort(entries.begin(), entries.end(), [](const Entry* a, const Entry* b) {
    return std::tie(a->begin, a->end, a->name) <
           std::tie(b->begin, b->end, b->name);
  });
  const Entry* previous = nullptr;
  for (const Entry* e : entries) {
    if (e->begin == e->end) continue;
    if (previous != nullptr && e->begin < previous->end) {
      return Invalid(source, "tensors '", previous->name, "' (bytes [",
                     previous->begin, ", ", previous->end, ")) and '", e->name,
                     "' (bytes [", e->begin, ", ", e->end, ")) overlap");
    }
    previous = e;
  }
  return absl::OkStatus();
}

void ConvertValues(const Entry& entry, const char* p, std::vector<float>& out) {
  const size_t n = static_cast<size_t>(entry.num_elements);
  out.resize(n);
  switch (entry.dtype.dtype) {
    case Dtype::kF32:
      if constexpr (std::endian::native == std::endian::little) {
        if (n > 0) std::memcpy(out.data(), p, n * sizeof(float));
      } else {
        for (size_t i = 0; i < n; ++i) {
          out[i] = std::bit_cast<float>(util::LoadU32(p + 4 * i));
        }
      }
      break;
    case Dtype::kF16:
      for (size_t i = 0; i < n; ++i) out[i] = util::HalfToFloat(util::LoadU16(p + 2 * i));
      break;
    case Dtype::kBF16:
      for (size_t i = 0; i < n; ++i) {
        out[i] = util::BFloat16ToFloat(util::LoadU16(p + 2 * i));
      }
      break;
    case Dtype::kF64:
      for (size_t i = 0; i < n; ++i) {
        double d = std::bit_cast<double>(util::LoadU64(p + 8 * i));
        // Narrowing a finite double beyond float's range is undefined
        // behavior; store infinity instead, which Convert() refuses.
        if (std::isnan(d)) {
          out[i] = std::numeric_limits<float>::quiet_NaN();
        } else if (std::fabs(d) > std::numeric_limits<float>::max()) {
          out[i] = std::copysign(std::numeric_limits<float>::infinity(), d);
        } else {
          out[i] = static_cast<float>(d);
        }
      }
      break;
  }
}

absl::StatusOr<Tensor> Convert(const Entry& entry, absl::string_view data,
                               absl::string_view source) {
  const char* p = data.data() + entry.begin;
  Tensor tensor;
  tensor.shape = entry.shape;
  ConvertValues(entry, p, tensor.values);
  for (size_t i = 0; i < tensor.values.size(); ++i) {
    const float v = tensor.values[i];
    if (std::isfinite(v)) continue;
    if (entry.dtype.dtype == Dtype::kF64) {
      const double d = std::bit_cast<double>(util::LoadU64(p + 8 * i));
      if (std::isfinite(d)) {
        return Invalid(source, "tensor '", entry.name, "' has value ", d,
                       " at flat index ", i, ", outside float32 range");
      }
    }
    return Invalid(source, "tensor '", entry.name, "' has a non-finite value (",
                   std::isnan(v) ? "NaN" : (v > 0 ? "inf" : "-inf"),
                   ") at flat index ", i,
                   "; NaN or infinite weights mean a broken model");
  }
  return tensor;
}

// The header's JSON object; `data` becomes the data section after it.
absl::StatusOr<json> ParseHeader(absl::string_view bytes,
                                 absl::string_view source,
                                 absl::string_view& data) {
  if (bytes.size() < 8) {
    return Invalid(source, "file is ", bytes.size(),
                   " bytes; a safetensors file starts with an 8-byte "
                   "little-endian header length");
  }
  const uint64_t header_size = util::LoadU64(bytes.data());
  if (header_size > bytes.size() - 8) {
    return Invalid(source, "header length is ", header_size, " bytes but only ",
                   bytes.size() - 8, " bytes follow the 8-byte length prefix");
  }
  const absl::string_view header_text = bytes.substr(8, header_size);
  data = bytes.substr(8 + header_size);

  json header =
      json::parse(header_text.data(), header_text.data() + header_text.size(),
                  /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded()) {
    return Invalid(source,
                   "header is not valid JSON: ", JsonSyntaxError(header_text));
  }
  if (!header.is_object()) {
    return Invalid(source, "header is ", Describe(header),
                   "; want a JSON object of tensors");
  }
  return header;
}

}  // namespace

absl::StatusOr<SafetensorsFile> SafetensorsFile::Read(const std::string& path) {
  RNN_ASSIGN_OR_RETURN(std::string bytes, util::ReadFileToString(path));
  return Parse(bytes, path);
}

absl::StatusOr<SafetensorsFile> SafetensorsFile::Parse(
    absl::string_view bytes, absl::string_view source) {
  absl::string_view data;
  RNN_ASSIGN_OR_RETURN(const json header, ParseHeader(bytes, source, data));

  SafetensorsFile file{std::string(source)};
  std::vector<Entry> entries;
  entries.reserve(header.size());
  for (const auto& [name, value] : header.items()) {
    if (name == kMetadataKey) {
      RNN_RETURN_IF_ERROR(ParseMetadata(value, source, file.metadata_));
      continue;
    }
    RNN_ASSIGN_OR_RETURN(Entry entry,
                         ParseEntry(name, value, source, data.size()));
    entries.push_back(std::move(entry));
  }

  std::vector<const Entry*> pointers;
  for (const Entry& entry : entries) pointers.push_back(&entry);
  RNN_RETURN_IF_ERROR(CheckNoOverlap(std::move(pointers), source));

  for (const Entry& entry : entries) {
    RNN_ASSIGN_OR_RETURN(Tensor tensor, Convert(entry, data, source));
    file.tensors_.emplace(entry.name, std::move(tensor));
  }
  return file;
}

absl::StatusOr<Tensor> SafetensorsFile::Take(const std::string& name) {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    return absl::NotFoundError(
        absl::StrCat(source_, ": no tensor '", name, "'"));
  }
  Tensor tensor = std::move(it->second);
  tensors_.erase(it);
  return tensor;
}

std::vector<std::string> SafetensorsFile::RemainingNames() const {
  std::vector<std::string> names;
  names.reserve(tensors_.size());
  for (const auto& [name, tensor] : tensors_) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace rnnserve::model
