#include "model/importers/zip_archive.h"

#include <zip.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace rnnserve::model {

struct ZipArchive::Handle {
  zip_t* zip = nullptr;
  ~Handle() {
    if (zip != nullptr) zip_discard(zip);  // read-only: nothing to write back
  }
};

ZipArchive::ZipArchive(std::unique_ptr<Handle> handle, std::string source,
                       std::vector<std::string> names)
    : handle_(std::move(handle)), source_(std::move(source)), names_(std::move(names)) {}
ZipArchive::ZipArchive(ZipArchive&&) noexcept = default;
ZipArchive& ZipArchive::operator=(ZipArchive&&) noexcept = default;
ZipArchive::~ZipArchive() = default;

absl::StatusOr<ZipArchive> ZipArchive::Open(absl::string_view bytes, std::string source) {
  auto refuse = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": is not a readable zip archive (", why, ")"));
  };
  if (!absl::StartsWith(bytes, kZipMagic)) return refuse("it does not start with PK\\3\\4");
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* zip_source = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
  if (zip_source == nullptr) {
    const std::string why = zip_error_strerror(&error);
    zip_error_fini(&error);
    return refuse(why);
  }
  auto handle = std::make_unique<Handle>();
  handle->zip = zip_open_from_source(zip_source, ZIP_RDONLY | ZIP_CHECKCONS, &error);
  if (handle->zip == nullptr) {
    zip_source_free(zip_source);  // zip_open_from_source took it only on success
    const std::string why = zip_error_strerror(&error);
    zip_error_fini(&error);
    return refuse(why);
  }
  zip_error_fini(&error);
  const zip_int64_t count = zip_get_num_entries(handle->zip, 0);
  if (count < 0 || count > 65536) return refuse("more than 65536 members");
  std::vector<std::string> names;
  for (zip_int64_t i = 0; i < count; ++i) {
    const char* name = zip_get_name(handle->zip, i, ZIP_FL_ENC_GUESS);
    if (name == nullptr) return refuse(absl::StrCat("member ", i, " has no readable name"));
    names.emplace_back(name);
  }
  return ZipArchive(std::move(handle), std::move(source), std::move(names));
}

bool ZipArchive::Has(absl::string_view name) const {
  return std::find(names_.begin(), names_.end(), name) != names_.end();
}

absl::StatusOr<std::string> ZipArchive::Read(absl::string_view name, int64_t max_bytes) const {
  auto refuse = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": member ", name, " ", why));
  };
  const auto it = std::find(names_.begin(), names_.end(), name);
  if (it == names_.end()) return refuse("is missing");
  const zip_uint64_t index = it - names_.begin();
  zip_stat_t stat;
  zip_stat_init(&stat);
  if (zip_stat_index(handle_->zip, index, 0, &stat) != 0 || !(stat.valid & ZIP_STAT_SIZE)) {
    return refuse("has no readable size");
  }
  if (stat.size > static_cast<zip_uint64_t>(max_bytes)) {
    return refuse(absl::StrCat("is ", stat.size, " bytes, more than the ", max_bytes, " accepted"));
  }
  if ((stat.valid & ZIP_STAT_ENCRYPTION_METHOD) && stat.encryption_method != ZIP_EM_NONE) {
    return refuse("is encrypted");
  }
  zip_file_t* file = zip_fopen_index(handle_->zip, index, 0);
  if (file == nullptr) {
    return refuse(absl::StrCat("cannot be opened: ", zip_strerror(handle_->zip)));
  }
  std::string bytes(stat.size, '\0');
  const zip_int64_t got = stat.size == 0 ? 0 : zip_fread(file, bytes.data(), stat.size);
  // One byte more than the directory says would mean a lying directory.
  char extra;
  const zip_int64_t more = zip_fread(file, &extra, 1);
  const std::string why = got < 0 || more < 0 ? zip_file_strerror(file) : "";
  zip_fclose(file);
  if (got < 0 || more < 0) return refuse(absl::StrCat("is corrupt: ", why));
  if (static_cast<zip_uint64_t>(got) != stat.size || more != 0) {
    return refuse(
        absl::StrCat("holds other than the ", stat.size, " bytes the archive's directory states"));
  }
  return bytes;
}

}  // namespace rnnserve::model
