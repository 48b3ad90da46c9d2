// util/file.h: reading a file to its end whatever size it reports (/proc
// files say 0 bytes), on any thread: the metrics exposer's civetweb workers
// read /proc through it on every scrape, on small stacks (a 64 KiB stack
// buffer once overflowed them and killed the server).
#include "util/file.h"

#include <pthread.h>

#include <string>

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

}  // namespace
}  // namespace rnnserve::util
