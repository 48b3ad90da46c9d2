#include "util/proc_stat.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rnnserve::util {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(ProcStatTest, FieldsStartAfterTheLastParenthesisOfTheCommandName) {
  // A thread may name itself "a) (b" : only the last ')' ends the name.
  const std::vector<std::string> fields = ProcStatFields("42 (a) (b) S 1 42 0\n");
  ASSERT_THAT(fields, ElementsAre("S", "1", "42", "0"));
  EXPECT_EQ(fields[4 - kFirstProcStatField], "1");  // proc(5)'s field 4: the parent
}

TEST(ProcStatTest, ALineWithoutACommandNameHasNoFields) {
  EXPECT_THAT(ProcStatFields("42 S 1"), IsEmpty());
}

}  // namespace
}  // namespace rnnserve::util
