#include "model/importers/hdf5_structure_check.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "util/byte_order.h"
#include "util/status_macros.h"

namespace rnnserve::model {
namespace {

// Layouts from the HDF5 File Format Specification, version 2.0 (the
// structures a version-0/1 superblock file uses).
constexpr uint16_t kContinuationMessage = 0x0010;
constexpr uint16_t kSymbolTableMessage = 0x0011;
constexpr uint16_t kAttributeMessage = 0x000C;
constexpr uint64_t kUndefinedAddress = ~uint64_t{0};
// Far beyond any model file (a Keras model has a few dozen objects), and
// small enough that a hostile file cannot make the walk slow.
constexpr int kMaxObjects = 1 << 16;
constexpr int kMaxMessages = 1 << 20;
constexpr int kMaxTreeDepth = 64;

uint64_t AlignUp8(uint64_t n) { return (n + 7) & ~uint64_t{7}; }

// Walks the file once; one instance per check.
class Walker {
 public:
  Walker(absl::string_view bytes, absl::string_view source) : bytes_(bytes), source_(source) {}

  absl::Status Run() {
    RNN_ASSIGN_OR_RETURN(const uint64_t root, RootObjectHeader());
    if (root == kUndefinedAddress) return absl::OkStatus();
    return ObjectHeader(root, "/");
  }

 private:
  absl::Status Refuse(uint64_t at, absl::string_view what, absl::string_view problem) const {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": ", what, " at byte ", at, " ", problem,
                     " (a corrupt HDF5 file libhdf5 cannot read safely)"));
  }
  // Whether [at, at + n) lies inside the file.
  bool Fits(uint64_t at, uint64_t n) const {
    return at <= bytes_.size() && n <= bytes_.size() - at;
  }
  uint64_t U8(uint64_t at) const { return static_cast<uint8_t>(bytes_[at]); }
  uint64_t U16(uint64_t at) const { return util::LoadU16(bytes_.data() + at); }
  uint64_t U32(uint64_t at) const { return util::LoadU32(bytes_.data() + at); }
  uint64_t U64(uint64_t at) const { return util::LoadU64(bytes_.data() + at); }

  // The root group's object header address from the superblock (version 0
  // or 1 with 8-byte offsets and lengths, as h5py writes; version 2 or 3
  // with its checksum left to libhdf5).
  absl::StatusOr<uint64_t> RootObjectHeader() const {
    if (!Fits(0, 16)) return Refuse(0, "the superblock", "is cut short");
    const uint64_t version = U8(8);
    if (version >= 2) {
      // Signature, version, sizes of offsets and lengths, flags, then base,
      // extension, end-of-file and root object header addresses.
      if (!Fits(0, 48) || U8(9) != 8 || U8(10) != 8) {
        return Refuse(0, "the superblock", "is cut short or has offsets other than 8 bytes");
      }
      return U64(36);
    }
    if (version > 1) return Refuse(8, "the superblock", "has an unknown version");
    if (U8(13) != 8 || U8(14) != 8) {
      return Refuse(13, "the superblock", "has offsets or lengths other than 8 bytes");
    }
    // Version 1 inserts 4 bytes (indexed storage K and a reserved field).
    const uint64_t base = version == 0 ? 24 : 28;
    if (!Fits(base, 4 * 8 + 40)) return Refuse(0, "the superblock", "is cut short");
    if (U64(base) != 0) {
      return Refuse(base, "the superblock", "has a base address other than 0 (a user block)");
    }
    // The root group's symbol table entry: name offset, then header address.
    return U64(base + 4 * 8 + 8);
  }

  absl::Status ObjectHeader(uint64_t at, const std::string& path) {
    const std::string what = absl::StrCat("the object header of ", path);
    if (!Fits(at, 16)) return Refuse(at, what, "lies outside the file");
    if (bytes_.substr(at, 4) == "OHDR") return absl::OkStatus();  // checksummed by libhdf5
    if (!visited_.insert(at).second) return absl::OkStatus();     // a second link to it
    if (++objects_ > kMaxObjects) return Refuse(at, what, "is one object too many");
    if (U8(at) != 1) return Refuse(at, what, "has an unknown version");
    // Version 1: version, reserved, message count (2), reference count (4),
    // size of the first chunk (4), 4 bytes of padding, then the chunk.
    std::vector<std::pair<uint64_t, uint64_t>> chunks = {{at + 16, U32(at + 8)}};
    std::vector<std::pair<uint64_t, uint64_t>> groups;  // B-tree, local heap
    for (size_t c = 0; c < chunks.size(); ++c) {
      const auto [begin, size] = chunks[c];
      if (!Fits(begin, size)) return Refuse(begin, what, "has a chunk past the end of the file");
      const uint64_t end = begin + size;
      // Messages: type (2), size (2), flags (1), reserved (3), then data.
      for (uint64_t m = begin; m + 8 <= end;) {
        if (++messages_ > kMaxMessages) return Refuse(m, what, "has too many messages");
        const uint64_t type = U16(m);
        const uint64_t length = U16(m + 2);
        const uint64_t data = m + 8;
        if (length > end - data) {
          return Refuse(m, what,
                        absl::StrCat("has a ", length, "-byte message past its chunk's end"));
        }
        if (type == kContinuationMessage) {
          if (length < 16) return Refuse(m, what, "has a short continuation message");
          if (chunks.size() >= 1024) return Refuse(m, what, "has too many continuation chunks");
          chunks.emplace_back(U64(data), U64(data + 8));
        } else if (type == kSymbolTableMessage) {
          if (length < 16) return Refuse(m, what, "has a short symbol table message");
          groups.emplace_back(U64(data), U64(data + 8));
        } else if (type == kAttributeMessage) {
          RNN_RETURN_IF_ERROR(Attribute(data, length, path));
        }
        m = data + length;
      }
    }
    for (const auto& [tree, heap] : groups) {
      RNN_RETURN_IF_ERROR(Group(tree, heap, path));
    }
    return absl::OkStatus();
  }

  // An attribute message: its name, datatype, dataspace and data must lie
  // inside the message (libhdf5 1.10.8 decodes each at the sizes declared).
  absl::Status Attribute(uint64_t at, uint64_t length, const std::string& path) const {
    const std::string where = absl::StrCat("an attribute message of ", path);
    if (length < 8) return Refuse(at, where, "is a message too short for its header");
    const uint64_t version = U8(at);
    const uint64_t flags = U8(at + 1);
    const uint64_t name = U16(at + 2), datatype = U16(at + 4), dataspace = U16(at + 6);
    // Version 1 pads each part to 8 bytes; 2 does not; 3 adds an encoding.
    uint64_t header = 8;
    auto padded = [&](uint64_t n) { return version == 1 ? AlignUp8(n) : n; };
    if (version == 3) {
      header = 9;
    } else if (version != 1 && version != 2) {
      return Refuse(at, where, "has an unknown version");
    }
    const uint64_t datatype_at = header + padded(name);
    const uint64_t dataspace_at = datatype_at + padded(datatype);
    const uint64_t data_at = dataspace_at + padded(dataspace);
    if (data_at > length) {
      return Refuse(
          at, where,
          absl::StrCat("declares a ", name, "-byte name, a ", datatype, "-byte datatype and a ",
                       dataspace, "-byte dataspace in a ", length, "-byte message"));
    }
    // Version 1 has no flags (a reserved byte); from 2 on, bits 0 and 1 mark
    // a shared datatype or dataspace, sized elsewhere.
    if (version >= 2 && (flags & 3) != 0) return absl::OkStatus();
    // The data: elements (from the dataspace) times the datatype's size.
    if (datatype < 8 || dataspace < 8) return Refuse(at, where, "has a truncated type or space");
    const uint64_t element_size = U32(at + datatype_at + 4);
    const uint64_t space = at + dataspace_at;
    const uint64_t space_version = U8(space), rank = U8(space + 1);
    uint64_t dims_at = space + 8;
    bool null_space = false;
    if (space_version == 2) {
      dims_at = space + 4;
      null_space = U8(space + 3) == 2;
    } else if (space_version != 1) {
      return Refuse(at, where, "has a dataspace of unknown version");
    }
    if (rank > 32 || dims_at + rank * 8 > space + dataspace) {
      return Refuse(at, where, "has a dataspace whose dimensions overrun it");
    }
    uint64_t elements = null_space ? 0 : 1;
    for (uint64_t d = 0; d < rank; ++d) {
      const uint64_t dim = U64(dims_at + 8 * d);
      // Any count past a 64 KiB message's bytes is refused below; this
      // bound only keeps the product from overflowing.
      if (dim != 0 && elements > (uint64_t{1} << 32) / dim) {
        return Refuse(at, where, "has a dataspace of over 2^32 elements");
      }
      elements *= dim;
    }
    if (element_size != 0 && elements > (length - data_at) / element_size) {
      return Refuse(at, where,
                    absl::StrCat("holds ", elements, " elements of ", element_size,
                                 " bytes in the ", length - data_at, " bytes left of its message"));
    }
    return VariableLengthElements(at, at + datatype_at, datatype, at + data_at, elements, where);
  }

  // A variable-length element is a length (4 bytes) and a global heap ID (an
  // 8-byte collection address, a 4-byte index). libhdf5 1.10.8 allocates
  // length x base size before it looks the heap object up (H5T__conv_vlen;
  // keras_fuzzer: a 4 GB malloc), so no length may describe more bytes than
  // the file holds.
  absl::Status VariableLengthElements(uint64_t at, uint64_t type, uint64_t type_size, uint64_t data,
                                      uint64_t elements, const std::string& where) const {
    constexpr uint64_t kVariableLengthClass = 9;
    if ((U8(type) & 0x0f) != kVariableLengthClass) return absl::OkStatus();
    if (U32(type + 4) != 16) return Refuse(at, where, "has a variable-length element not 16 bytes");
    // The base type follows the 8-byte header: class and bits (4), size (4).
    const uint64_t base_size = type_size >= 16 ? std::max<uint64_t>(U32(type + 12), 1) : 1;
    for (uint64_t e = 0; e < elements; ++e) {
      const uint64_t length = U32(data + 16 * e);
      if (length > bytes_.size() / base_size) {
        return Refuse(at, where,
                      absl::StrCat("has a variable-length element of ", length, " x ", base_size,
                                   " bytes, more than the ", bytes_.size(), "-byte file holds"));
      }
    }
    return absl::OkStatus();
  }

  // A symbol-table group: its local heap (the member names) and B-tree.
  absl::Status Group(uint64_t tree, uint64_t heap, const std::string& path) {
    const std::string what = absl::StrCat("the local heap of ", path);
    // "HEAP", version 0, 3 reserved, data size (8), free list (8), address (8).
    if (!Fits(heap, 32) || bytes_.substr(heap, 4) != "HEAP") {
      return Refuse(heap, what, "is missing or outside the file");
    }
    const uint64_t names_size = U64(heap + 8);
    const uint64_t names = U64(heap + 24);
    if (!Fits(names, names_size)) return Refuse(heap, what, "has its names past the file's end");
    return TreeNode(tree, names, names_size, path, 0);
  }

  // A version-1 B-tree node of a group: children are nodes (level > 0) or
  // symbol nodes (level 0).
  absl::Status TreeNode(uint64_t at, uint64_t names, uint64_t names_size, const std::string& path,
                        int depth) {
    const std::string what = absl::StrCat("a B-tree node of ", path);
    if (depth > kMaxTreeDepth) return Refuse(at, what, "is nested too deep");
    // "TREE", type (1), level (1), entries (2), siblings (2 x 8), then
    // entries + 1 keys (8) interleaved with entries children (8).
    if (!Fits(at, 24) || bytes_.substr(at, 4) != "TREE") {
      return Refuse(at, what, "is missing or outside the file");
    }
    if (!visited_.insert(at).second) return Refuse(at, what, "is reached twice (a cycle)");
    if (++objects_ > kMaxObjects) return Refuse(at, what, "is one object too many");
    if (U8(at + 4) != 0) return Refuse(at, what, "is not a group node");
    const uint64_t level = U8(at + 5);
    const uint64_t entries = U16(at + 6);
    if (!Fits(at + 24, entries * 16 + 8))
      return Refuse(at, what, "has entries past the file's end");
    for (uint64_t i = 0; i < entries; ++i) {
      const uint64_t child = U64(at + 24 + 8 + 16 * i);
      RNN_RETURN_IF_ERROR(level > 0 ? TreeNode(child, names, names_size, path, depth + 1)
                                    : SymbolNode(child, names, names_size, path));
    }
    return absl::OkStatus();
  }

  // "SNOD", version 1, reserved, symbol count (2), then 40-byte entries: name
  // offset in the local heap (8), object header address (8), cache (24).
  absl::Status SymbolNode(uint64_t at, uint64_t names, uint64_t names_size,
                          const std::string& path) {
    const std::string what = absl::StrCat("a symbol node of ", path);
    if (!Fits(at, 8) || bytes_.substr(at, 4) != "SNOD") {
      return Refuse(at, what, "is missing or outside the file");
    }
    if (!visited_.insert(at).second) return Refuse(at, what, "is reached twice (a cycle)");
    const uint64_t count = U16(at + 6);
    if (!Fits(at + 8, count * 40)) return Refuse(at, what, "has entries past the file's end");
    for (uint64_t i = 0; i < count; ++i) {
      const uint64_t entry = at + 8 + 40 * i;
      const uint64_t name = U64(entry);
      if (name >= names_size) return Refuse(entry, what, "names a member outside its local heap");
      const absl::string_view rest = bytes_.substr(names + name, names_size - name);
      const size_t end = rest.find('\0');
      if (end == absl::string_view::npos) {
        return Refuse(entry, what, "has a member name with no end in its local heap");
      }
      const std::string child = absl::StrCat(path == "/" ? "" : path, "/", rest.substr(0, end));
      RNN_RETURN_IF_ERROR(ObjectHeader(U64(entry + 8), child));
    }
    return absl::OkStatus();
  }

  const absl::string_view bytes_;
  const absl::string_view source_;
  absl::flat_hash_set<uint64_t> visited_;
  int objects_ = 0;
  int messages_ = 0;
};

}  // namespace

absl::Status CheckHdf5Structure(absl::string_view bytes, absl::string_view source) {
  return Walker(bytes, source).Run();
}

}  // namespace rnnserve::model
