// Reads named members out of a zip archive held in memory (the Keras 3
// .keras format: config.json, metadata.json, model.weights.h5), through
// libzip. Member sizes are bounded before anything is decompressed, and the
// bytes read must match the size the directory states. libzip keeps no global
// state: instances are independent; one instance is not thread-safe.
#ifndef RNNSERVE_MODEL_IMPORTERS_ZIP_ARCHIVE_H_
#define RNNSERVE_MODEL_IMPORTERS_ZIP_ARCHIVE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rnnserve::model {

// A local file header's signature, "PK\3\4": how a zip archive starts.
inline constexpr absl::string_view kZipMagic("PK\x03\x04", 4);

class ZipArchive {
 public:
  // The largest member Read() returns.
  static constexpr int64_t kMaxMemberBytes = int64_t{4} << 30;

  // `bytes` must outlive the archive. `source` names it in messages.
  // INVALID_ARGUMENT when the bytes are not a zip archive.
  static absl::StatusOr<ZipArchive> Open(absl::string_view bytes, std::string source);

  ZipArchive(ZipArchive&&) noexcept;
  ZipArchive& operator=(ZipArchive&&) noexcept;
  ~ZipArchive();

  // Member names in directory order.
  const std::vector<std::string>& names() const { return names_; }
  bool Has(absl::string_view name) const;

  // Member `name`, decompressed. INVALID_ARGUMENT naming the archive and
  // member when absent, larger than `max_bytes`, encrypted or corrupt.
  absl::StatusOr<std::string> Read(absl::string_view name,
                                   int64_t max_bytes = kMaxMemberBytes) const;

 private:
  struct Handle;
  ZipArchive(std::unique_ptr<Handle> handle, std::string source, std::vector<std::string> names);

  std::unique_ptr<Handle> handle_;
  std::string source_;
  std::vector<std::string> names_;
};

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_IMPORTERS_ZIP_ARCHIVE_H_
