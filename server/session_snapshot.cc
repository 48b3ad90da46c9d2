#include "server/session_snapshot.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl.h"
#include "rnnserve/v1/sessions.pb.h"
#include "server/session_transfer.h"
#include "util/status_macros.h"

namespace rnnserve::server {
namespace {

using google::protobuf::io::CodedInputStream;
using google::protobuf::io::CodedOutputStream;
using google::protobuf::io::FileInputStream;
using google::protobuf::io::FileOutputStream;

constexpr char kMagic[] = "rnnserve-snapshot 1\n";
constexpr int kMagicSize = sizeof(kMagic) - 1;
constexpr size_t kMaxProblems = 5;
// No session state comes near this; a larger length means a corrupt file.
constexpr uint32_t kMaxRecordBytes = 1u << 30;

absl::Status ErrnoError(const std::string& what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// Closes a descriptor on every path out.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) close(fd);
  }
};

absl::Status SyncFolderOf(const std::string& path) {
  const std::string folder = std::filesystem::path(path).parent_path().string();
  const int fd = open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return ErrnoError("cannot open the folder of", path);
  FdCloser closer{fd};
  if (fsync(fd) != 0) return ErrnoError("cannot sync the folder of", path);
  return absl::OkStatus();
}

// Calls `record` with each session record's bytes reader, after checking the
// header; returns the count the trailer states. A fresh CodedInputStream per
// record: one stream may not read past 2 GiB, a snapshot may be larger.
absl::StatusOr<int64_t> ReadRecords(const std::string& path,
                                    const std::function<absl::Status(CodedInputStream&,
                                                                     uint32_t)>& record) {
  const int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("no snapshot at ", path));
    return ErrnoError("cannot open", path);
  }
  FdCloser closer{fd};
  FileInputStream file(fd);
  const auto truncated = [&path](const std::string& what) {
    return absl::DataLossError(absl::StrCat(path, " is not a complete rnnserve snapshot: ",
                                            what));
  };
  {
    CodedInputStream in(&file);
    std::string magic;
    if (!in.ReadString(&magic, kMagicSize) || magic != kMagic) return truncated("bad header");
  }
  for (int64_t n = 0;; ++n) {
    CodedInputStream in(&file);
    uint32_t size = 0;
    if (!in.ReadVarint32(&size)) return truncated(absl::StrCat("ends inside record ", n));
    if (size == 0) {
      uint64_t count = 0;
      if (!in.ReadLittleEndian64(&count)) return truncated("ends inside the trailer");
      if (count != static_cast<uint64_t>(n)) {
        return truncated(absl::StrCat("the trailer says ", count, " sessions, found ", n));
      }
      return n;
    }
    if (size > kMaxRecordBytes) return truncated(absl::StrCat("record ", n, " is too large"));
    RNN_RETURN_IF_ERROR(record(in, size));
  }
}

}  // namespace

absl::StatusOr<int64_t> WriteSnapshot(const std::string& path, SessionStore& store,
                                      const ServedModels& models) {
  const std::string temp = absl::StrCat(path, ".tmp.", getpid());
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return ErrnoError("cannot create", temp);
  FdCloser closer{fd};
  int64_t written = 0;
  bool ok;
  {
    FileOutputStream file(fd);
    {
      CodedOutputStream out(&file);
      out.WriteRaw(kMagic, kMagicSize);
      v1::SessionState state;
      for (const SessionPtr& session : store.Sessions()) {
        state.Clear();
        if (!ExportSession(*session, models, &state).ok()) continue;  // its model is gone
        out.WriteVarint32(static_cast<uint32_t>(state.ByteSizeLong()));
        state.SerializeWithCachedSizes(&out);
        ++written;
      }
      out.WriteVarint32(0);
      out.WriteLittleEndian64(static_cast<uint64_t>(written));
      ok = !out.HadError();
    }
    ok = file.Flush() && ok;
  }
  if (!ok || fsync(fd) != 0) {
    const absl::Status error = ErrnoError("cannot write", temp);
    unlink(temp.c_str());
    return error;
  }
  if (rename(temp.c_str(), path.c_str()) != 0) {
    const absl::Status error = ErrnoError("cannot rename the snapshot to", path);
    unlink(temp.c_str());
    return error;
  }
  RNN_RETURN_IF_ERROR(SyncFolderOf(path));
  return written;
}

absl::StatusOr<RestoreResult> RestoreSnapshot(const std::string& path, const ServedModels& models,
                                              SessionStore& store, absl::Time now) {
  // First pass: is the file whole? Nothing is imported from a broken one.
  RNN_RETURN_IF_ERROR(ReadRecords(path, [](CodedInputStream& in, uint32_t size) {
                        return in.Skip(static_cast<int>(size))
                                   ? absl::OkStatus()
                                   : absl::DataLossError("a record runs past the end");
                      }).status());
  RestoreResult result;
  v1::SessionState state;
  RNN_RETURN_IF_ERROR(
      ReadRecords(path, [&](CodedInputStream& in, uint32_t size) {
        const CodedInputStream::Limit limit = in.PushLimit(static_cast<int>(size));
        const bool parsed = state.ParseFromCodedStream(&in) && in.ConsumedEntireMessage();
        in.PopLimit(limit);
        absl::Status imported =
            parsed ? ImportSession(state, models, store, now).status()
                   : absl::DataLossError("a session record does not parse");
        if (imported.ok()) {
          ++result.restored;
        } else {
          ++result.skipped;
          if (result.problems.size() < kMaxProblems) {
            result.problems.push_back(
                absl::StrCat("session \"", state.session_id(), "\": ", imported.ToString()));
          }
        }
        return absl::OkStatus();
      }).status());
  return result;
}

}  // namespace rnnserve::server
