#include "util/file.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace rnnserve::util {
namespace {

// `message` with errno's code and text when the failed call set errno.
absl::Status ErrnoOrUnknown(int error, absl::string_view message) {
  return error != 0 ? absl::ErrnoToStatus(error, message) : absl::UnknownError(message);
}

}  // namespace

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::error_code ec;
  const std::filesystem::file_status status = std::filesystem::status(path, ec);
  if (status.type() == std::filesystem::file_type::not_found) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  if (ec) {
    return absl::ErrnoToStatus(ec.value(), absl::StrCat(path, ": cannot stat"));
  }
  if (status.type() != std::filesystem::file_type::regular) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) {
    const int error = errno;
    return ErrnoOrUnknown(error, absl::StrCat(path, ": cannot open"));
  }
  // Read to the end rather than trusting the size: /proc files say 0 bytes.
  std::string contents;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (!ec) contents.reserve(static_cast<size_t>(size));
  // On the heap: callers run on threads with small stacks (the metrics
  // exposer's civetweb workers read /proc through this; a 64 KiB stack
  // buffer overflowed theirs and killed the server on a scrape).
  std::string buffer(size_t{1} << 16, '\0');
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) ||
         in.gcount() > 0) {
    contents.append(buffer.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) {
    const int error = errno;
    return ErrnoOrUnknown(error, absl::StrCat(path, ": cannot read"));
  }
  return contents;
}

absl::Status WriteStringToFile(const std::string& path, absl::string_view contents) {
  errno = 0;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (out.is_open()) {
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.close();
    if (out) return absl::OkStatus();
  }
  const int error = errno;
  return ErrnoOrUnknown(error, absl::StrCat(path, ": cannot write file"));
}

absl::StatusOr<std::vector<DirectoryEntry>> ListVisibleEntries(const std::string& dir) {
  std::error_code error;
  std::vector<DirectoryEntry> entries;
  for (std::filesystem::directory_iterator it(dir, error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    std::error_code stat_error;
    const bool is_directory = it->is_directory(stat_error);
    entries.push_back({std::move(name), is_directory, static_cast<bool>(stat_error)});
  }
  if (error) return absl::ErrnoToStatus(error.value(), absl::StrCat("cannot list ", dir));
  std::sort(entries.begin(), entries.end(),
            [](const DirectoryEntry& a, const DirectoryEntry& b) { return a.name < b.name; });
  return entries;
}

}  // namespace rnnserve::util
