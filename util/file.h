// Whole-file reads and writes and folder listings, for the weight readers, the
// loaders, the server (tokens, credentials, /proc) and the client (TLS files,
// inputs). Messages name the path; codes follow errno where there is one.
#ifndef RNNSERVE_UTIL_FILE_UTIL_H_
#define RNNSERVE_UTIL_FILE_UTIL_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rnnserve::util {

// The whole of file `path`. NOT_FOUND if it does not exist, INVALID_ARGUMENT
// if it is not a regular file, the errno's code if it cannot be read. Reads
// to the end of the file, so /proc files (which report size 0) work.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Creates or truncates file `path` and writes `contents` to it. The errno's
// code if it cannot be written (NOT_FOUND for a missing directory), UNKNOWN
// when the stream fails without setting errno.
absl::Status WriteStringToFile(const std::string& path, absl::string_view contents);

// One entry of a folder listing.
struct DirectoryEntry {
  std::string name;
  bool is_directory = false;
  // It could not be stat'ed (a dangling symlink, an I/O error): whether it
  // is a folder is unknown, and is_directory is false.
  bool unknown = false;
};

// The entries of folder `dir` not starting with '.' (hidden files, editors'
// and version control's droppings), sorted by name. The errno's code if
// `dir` cannot be listed.
absl::StatusOr<std::vector<DirectoryEntry>> ListVisibleEntries(const std::string& dir);

}  // namespace rnnserve::util

#endif  // RNNSERVE_UTIL_FILE_UTIL_H_
