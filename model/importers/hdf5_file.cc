#include "model/importers/hdf5_file.h"

#include <hdf5.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "model/importers/hdf5_structure_check.h"
#include "util/byte_order.h"
#include "util/status_macros.h"

namespace rnnserve::model {
namespace {

static_assert(sizeof(hid_t) == sizeof(int64_t), "Hdf5File keeps hid_t as int64_t");

// libhdf5 (Debian's serial build) keeps global state and is not thread-safe:
// every call into it holds this lock.
absl::Mutex& LibraryLock() {
  static absl::Mutex* const mutex = new absl::Mutex();
  return *mutex;
}

// Closes an hid_t with its matching close function when it goes out of scope.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// Once per process, under LibraryLock(): libhdf5 would otherwise print its
// error stack to stderr for every failed call, expected ones included.
void SilenceLibraryErrors() {
  static const bool silenced = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)silenced;
}

std::string PathOf(absl::string_view path) { return path.empty() ? "/" : std::string(path); }

bool ExistsLocked(hid_t file, absl::string_view path) {
  std::string prefix;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    absl::StrAppend(&prefix, "/", part);
    if (H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
  }
  return true;
}

// Element strings of a string-typed attribute; `type` is its file type.
absl::StatusOr<std::vector<std::string>> ReadStrings(hid_t attribute, hid_t type, hssize_t count) {
  std::vector<std::string> strings;
  if (H5Tis_variable_str(type) > 0) {
    Handle memory(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(memory.get(), H5T_VARIABLE);
    H5Tset_cset(memory.get(), H5Tget_cset(type));
    std::vector<char*> pointers(count, nullptr);
    Handle space(H5Aget_space(attribute), H5Sclose);
    if (H5Aread(attribute, memory.get(), pointers.data()) < 0) {
      // A read that failed half-way has allocated the strings before it.
      H5Dvlen_reclaim(memory.get(), space.get(), H5P_DEFAULT, pointers.data());
      return absl::InvalidArgumentError("cannot be read");
    }
    int64_t total = 0;
    for (char* p : pointers) {
      const size_t length = p == nullptr ? 0 : strnlen(p, Hdf5File::kMaxAttributeBytes);
      total += length;
      strings.emplace_back(p == nullptr ? "" : std::string(p, length));
    }
    H5Dvlen_reclaim(memory.get(), space.get(), H5P_DEFAULT, pointers.data());
    if (total >= Hdf5File::kMaxAttributeBytes) {
      return absl::InvalidArgumentError("is larger than 64 MiB");
    }
    return strings;
  }
  const size_t size = H5Tget_size(type);
  if (size == 0 || static_cast<int64_t>(size) * count > Hdf5File::kMaxAttributeBytes) {
    return absl::InvalidArgumentError("has a string size of 0 or over 64 MiB");
  }
  std::vector<char> buffer(size * count);
  if (H5Aread(attribute, type, buffer.data()) < 0) {
    return absl::InvalidArgumentError("cannot be read");
  }
  for (hssize_t i = 0; i < count; ++i) {
    const char* begin = buffer.data() + i * size;
    // NULLPAD and NULLTERM both end at the first NUL; SPACEPAD has none.
    strings.emplace_back(begin, strnlen(begin, size));
  }
  return strings;
}

// libhdf5 1.10.8 trusts the global heap collections that hold variable-length
// strings (every Keras .h5 attribute): it loops forever on a free-space
// object of size 0 (H5HG__cache_heap_deserialize advances by the object's
// size) and reads past its object table for a string whose heap ID names an
// index the collection lacks (H5HG_read). Both found by fuzz/keras_fuzzer;
// refused here before libhdf5 sees the file. Collections are found by their
// "GCOL" signature, version 1 and a size that fits the file (anything else is
// no collection libhdf5 would decode); objects are walked as libhdf5 walks
// them (16-byte headers, 8-byte aligned data). A heap ID is the collection's
// address (its file offset: Keras files have no user block) and a 4-byte
// index, after the string's 4-byte length.
absl::Status CheckGlobalHeaps(absl::string_view bytes, absl::string_view source) {
  constexpr size_t kHeader = 16;
  auto refuse = [&](size_t at, absl::string_view problem) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": the global heap collection at byte ",
                                                   at, " ", problem,
                                                   " (a corrupt file libhdf5 cannot read safely)"));
  };
  for (size_t at = bytes.find("GCOL"); at != absl::string_view::npos;
       at = bytes.find("GCOL", at + 4)) {
    if (bytes.size() - at < kHeader || bytes[at + 4] != 1) continue;
    const uint64_t size = util::LoadU64(bytes.data() + at + 8);
    if (size < kHeader || size > bytes.size() - at) continue;
    const size_t end = at + size;
    absl::flat_hash_set<uint32_t> indices;
    for (size_t p = at + kHeader; p + kHeader <= end;) {
      const uint16_t index = util::LoadU16(bytes.data() + p);
      const uint64_t object = util::LoadU64(bytes.data() + p + 8);
      const uint64_t need =
          index > 0 ? kHeader + ((std::min<uint64_t>(object, end) + 7) & ~uint64_t{7}) : object;
      if (need == 0) return refuse(at, "holds an empty free-space object");
      if (need > end - p) return refuse(at, absl::StrCat("has an object past its end at byte ", p));
      if (index > 0) indices.insert(index);
      p += need;
    }
    // Every heap ID naming this collection must name one of its objects.
    char address[8];
    for (int i = 0; i < 8; ++i) address[i] = static_cast<char>((uint64_t{at} >> (8 * i)) & 0xff);
    const absl::string_view key(address, 8);
    for (size_t q = bytes.find(key, 4); q != absl::string_view::npos; q = bytes.find(key, q + 1)) {
      if (q + 12 > bytes.size()) break;
      const uint32_t length = util::LoadU32(bytes.data() + q - 4);
      const uint32_t index = util::LoadU32(bytes.data() + q + 8);
      if (length <= size && length > 0 && !indices.contains(index)) {
        return refuse(
            at, absl::StrCat("lacks object ", index, " that a string at byte ", q - 4, " names"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Hdf5File::Error(absl::string_view path, absl::string_view problem) const {
  return absl::InvalidArgumentError(absl::StrCat(source_, ": ", PathOf(path), " ", problem));
}

absl::StatusOr<Hdf5File> Hdf5File::Open(absl::string_view bytes, std::string source) {
  if (!absl::StartsWith(bytes, kHdf5Magic)) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": is not an HDF5 file (it does not start with \\x89HDF\\r\\n)"));
  }
  RNN_RETURN_IF_ERROR(CheckGlobalHeaps(bytes, source));
  RNN_RETURN_IF_ERROR(CheckHdf5Structure(bytes, source));
  absl::MutexLock lock(&LibraryLock());
  SilenceLibraryErrors();
  Handle access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  // The core driver reads the file from memory; without a backing store
  // nothing is ever written to disk.
  if (!access.ok() || H5Pset_fapl_core(access.get(), 1 << 16, /*backing_store=*/false) < 0 ||
      H5Pset_file_image(access.get(), const_cast<char*>(bytes.data()), bytes.size()) < 0) {
    return absl::InternalError(absl::StrCat(source, ": libhdf5 could not set up a file image"));
  }
  // The name only has to differ from every other open file's.
  static int64_t opened = 0;
  const std::string name = absl::StrCat("rnnserve-image-", ++opened);
  const hid_t file = H5Fopen(name.c_str(), H5F_ACC_RDONLY, access.get());
  if (file < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": is not a readable HDF5 file (libhdf5 refused to open it)"));
  }
  return Hdf5File(file, static_cast<int64_t>(bytes.size()), std::move(source));
}

Hdf5File::Hdf5File(Hdf5File&& other) noexcept
    : file_id_(std::exchange(other.file_id_, -1)),
      file_size_(other.file_size_),
      source_(std::move(other.source_)) {}

Hdf5File& Hdf5File::operator=(Hdf5File&& other) noexcept {
  if (this != &other) {
    this->~Hdf5File();
    file_id_ = std::exchange(other.file_id_, -1);
    file_size_ = other.file_size_;
    source_ = std::move(other.source_);
  }
  return *this;
}

Hdf5File::~Hdf5File() {
  if (file_id_ < 0) return;
  absl::MutexLock lock(&LibraryLock());
  H5Fclose(file_id_);
  file_id_ = -1;
}

bool Hdf5File::Exists(absl::string_view path) const {
  absl::MutexLock lock(&LibraryLock());
  return ExistsLocked(file_id_, path);
}

bool Hdf5File::HasAttribute(absl::string_view object, absl::string_view name) const {
  absl::MutexLock lock(&LibraryLock());
  const std::string path = PathOf(object);
  const std::string attribute(name);
  return ExistsLocked(file_id_, path) &&
         H5Aexists_by_name(file_id_, path.c_str(), attribute.c_str(), H5P_DEFAULT) > 0;
}

absl::StatusOr<std::vector<std::string>> Hdf5File::Members(absl::string_view group_path) const {
  absl::MutexLock lock(&LibraryLock());
  const std::string path = PathOf(group_path);
  if (!ExistsLocked(file_id_, path)) return Error(path, "does not exist");
  Handle group(H5Gopen2(file_id_, path.c_str(), H5P_DEFAULT), H5Gclose);
  if (!group.ok()) return Error(path, "is not a group");
  H5G_info_t info;
  if (H5Gget_info(group.get(), &info) < 0) return Error(path, "cannot be listed");
  if (info.nlinks > static_cast<hsize_t>(kMaxGroupMembers)) {
    return Error(path, absl::StrCat("has ", info.nlinks, " members, more than ", kMaxGroupMembers));
  }
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t length = H5Lget_name_by_idx(group.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i,
                                              nullptr, 0, H5P_DEFAULT);
    if (length < 0 || length > 4096) return Error(path, "has a member name that cannot be read");
    std::string name(length + 1, '\0');
    H5Lget_name_by_idx(group.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(),
                       H5P_DEFAULT);
    name.resize(length);
    names.push_back(std::move(name));
  }
  return names;
}

absl::StatusOr<std::optional<std::vector<std::string>>> Hdf5File::ReadStringAttribute(
    absl::string_view object, absl::string_view name, StringShape shape) const {
  if (!HasAttribute(object, name)) return std::optional<std::vector<std::string>>();
  absl::MutexLock lock(&LibraryLock());
  const std::string path = PathOf(object);
  const std::string where = absl::StrCat("attribute ", name, " of ", path);
  Handle attribute(
      H5Aopen_by_name(file_id_, path.c_str(), std::string(name).c_str(), H5P_DEFAULT, H5P_DEFAULT),
      H5Aclose);
  if (!attribute.ok()) return Error(where, "cannot be opened");
  Handle type(H5Aget_type(attribute.get()), H5Tclose);
  Handle space(H5Aget_space(attribute.get()), H5Sclose);
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  const H5T_class_t type_class = H5Tget_class(type.get());
  if (shape == StringShape::kSingle) {
    if (type_class != H5T_STRING || count != 1) return Error(where, "is not a single string");
  } else {
    if (count < 0 || count > kMaxGroupMembers) return Error(where, "has a bad size");
    // h5py writes an empty Python list as a float64 array of shape (0,).
    if (count == 0 && type_class != H5T_STRING) return {std::vector<std::string>()};
    if (type_class != H5T_STRING || H5Sget_simple_extent_ndims(space.get()) > 1) {
      return Error(where, "is not a list of strings");
    }
  }
  absl::StatusOr<std::vector<std::string>> strings =
      ReadStrings(attribute.get(), type.get(), count);
  if (!strings.ok()) return Error(where, strings.status().message());
  return {*std::move(strings)};
}

absl::StatusOr<std::optional<std::string>> Hdf5File::StringAttribute(absl::string_view object,
                                                                     absl::string_view name) const {
  RNN_ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> strings,
                       ReadStringAttribute(object, name, StringShape::kSingle));
  if (!strings.has_value()) return std::optional<std::string>();
  return std::optional<std::string>(std::move(strings->front()));
}

absl::StatusOr<std::vector<std::string>> Hdf5File::StringListAttribute(
    absl::string_view object, absl::string_view name) const {
  RNN_ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> strings,
                       ReadStringAttribute(object, name, StringShape::kList));
  if (!strings.has_value()) {
    return Error(absl::StrCat("attribute ", name, " of ", PathOf(object)), "is missing");
  }
  return *std::move(strings);
}

absl::StatusOr<Tensor> Hdf5File::ReadFloats(absl::string_view dataset_path) const {
  const std::string path = PathOf(dataset_path);
  if (!Exists(path)) return Error(path, "does not exist");
  absl::MutexLock lock(&LibraryLock());
  Handle dataset(H5Dopen2(file_id_, path.c_str(), H5P_DEFAULT), H5Dclose);
  if (!dataset.ok()) return Error(path, "is not a dataset");
  Handle type(H5Dget_type(dataset.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_FLOAT) return Error(path, "is not floating point");
  Handle space(H5Dget_space(dataset.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0 || rank > 8) return Error(path, "has a bad rank");
  hsize_t dims[8] = {};
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  Tensor tensor;
  int64_t elements = 1;
  for (int i = 0; i < rank; ++i) {
    if (dims[i] > static_cast<hsize_t>(kMaxDatasetElements)) {
      return Error(path, "is larger than 2^28 elements");
    }
    elements *= static_cast<int64_t>(dims[i]);
    if (elements > kMaxDatasetElements) return Error(path, "is larger than 2^28 elements");
    tensor.shape.push_back(static_cast<int64_t>(dims[i]));
  }
  // A dataset created but never written reads as its fill value: for a
  // weight that is a file saved half-way, not zeros to serve.
  const hsize_t storage = H5Dget_storage_size(dataset.get());
  if (elements > 0 && storage == 0) return Error(path, "has no data written");
  // Before allocating: a corrupt shape or layout would otherwise have this
  // read allocate and libhdf5 convert up to 2^28 elements for a dataset the
  // file cannot hold (keras_fuzzer: a run out of memory). Keras writes its
  // weights unfiltered, storage = shape exactly; a filtered (compressed)
  // dataset, which h5py users may write, is bounded by kMaxDatasetElements.
  Handle creation(H5Dget_create_plist(dataset.get()), H5Pclose);
  const bool filtered = !creation.ok() || H5Pget_nfilters(creation.get()) != 0;
  const uint64_t need = static_cast<uint64_t>(elements) * H5Tget_size(type.get());
  if (storage > static_cast<hsize_t>(file_size_) || (!filtered && storage < need)) {
    return Error(
        path, absl::StrCat("has ", storage, " bytes of storage for ", need, " bytes of data in a ",
                           file_size_, "-byte file (truncated or corrupt)"));
  }
  tensor.values.resize(elements);
  if (elements > 0 && H5Dread(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                              tensor.values.data()) < 0) {
    return Error(path, "cannot be read as float32");
  }
  return tensor;
}

}  // namespace rnnserve::model
