// util/file.h: reading a file to its end whatever size it reports (/proc
// files say 0 bytes), on any thread: the metrics exposer's civetweb workers
// read /proc through it on every scrape, on small stacks (a 64 KiB stack
// buffer once overflowed them and killed the server). Listing a folder:
// hidden entries skipped, sorted, and an entry that cannot be stat'ed marked
// unknown rather than taken for a plain file.
#include "util/file.h"

#include <pthread.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rnnserve::util {
namespace {

using ::testing::HasSubstr;

TEST(ReadFileToStringTest, ReadsAProcFileThatReportsNoSize) {
  absl::StatusOr<std::string> status = ReadFileToString("/proc/self/status");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_THAT(*status, HasSubstr("VmRSS:"));
}

TEST(ReadFileToStringTest, ReadsOnAThreadWithASmallStack) {
  pthread_attr_t attributes;
  ASSERT_EQ(pthread_attr_init(&attributes), 0);
  // Smaller than civetweb's worker stacks, larger than PTHREAD_STACK_MIN.
  ASSERT_EQ(pthread_attr_setstacksize(&attributes, 48 * 1024), 0);
  absl::StatusOr<std::string> read;
  pthread_t thread;
  ASSERT_EQ(pthread_create(
                &thread, &attributes,
                [](void* out) -> void* {
                  *static_cast<absl::StatusOr<std::string>*>(out) =
                      ReadFileToString("/proc/self/status");
                  return nullptr;
                },
                &read),
            0);
  ASSERT_EQ(pthread_join(thread, nullptr), 0);
  pthread_attr_destroy(&attributes);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_THAT(*read, HasSubstr("VmRSS:"));
}

TEST(ListVisibleEntriesTest, SkipsHiddenSortsAndMarksWhatCannotBeStatted) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("list_entries_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "b_folder");
  std::filesystem::create_directories(dir / ".hidden");
  { std::ofstream(dir / "a_file") << "x"; }
  std::filesystem::create_symlink(dir / "nowhere", dir / "c_dangling");
  const absl::StatusOr<std::vector<DirectoryEntry>> entries = ListVisibleEntries(dir.string());
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].name, "a_file");
  EXPECT_FALSE((*entries)[0].is_directory);
  EXPECT_FALSE((*entries)[0].unknown);
  EXPECT_EQ((*entries)[1].name, "b_folder");
  EXPECT_TRUE((*entries)[1].is_directory);
  EXPECT_EQ((*entries)[2].name, "c_dangling");
  EXPECT_FALSE((*entries)[2].is_directory);
  EXPECT_TRUE((*entries)[2].unknown);
}

}  // namespace
}  // namespace rnnserve::util
