// GateWeights::Validate: every matrix and bias must agree with
// gates * hidden_size, the peephole with 3 * hidden_size, and the message
// says which one did not and what was wanted.
#include "model/engine/gates.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rnnserve::model {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

GateWeights Valid(int gates, int hidden, int input, int recurrent) {
  const int width = gates * hidden;
  return GateWeights{.gates = gates,
                     .hidden_size = hidden,
                     .input = RowMatrix::Zero(input, width),
                     .recurrent = RowMatrix::Zero(recurrent, width),
                     .input_bias = RowVector::Zero(width),
                     .recurrent_bias = RowVector::Zero(width),
                     .peephole = RowVector()};
}

TEST(GateWeightsTest, ConsistentShapesAreValid) {
  GateWeights lstm = Valid(4, 5, 3, 5);
  EXPECT_TRUE(lstm.Validate().ok());
  EXPECT_EQ(lstm.width(), 20);
  EXPECT_EQ(lstm.input_size(), 3);
  EXPECT_EQ(lstm.recurrent_size(), 5);
  lstm.peephole = RowVector::Zero(15);
  EXPECT_TRUE(lstm.Validate().ok());
  // A Jordan RNN's recurrent input is its head's width, not hidden_size.
  EXPECT_TRUE(Valid(1, 6, 4, 2).Validate().ok());
}

TEST(GateWeightsTest, EachMismatchIsNamed) {
  struct Case {
    const char* what;
    void (*spoil)(GateWeights&);
  };
  for (const Case& c : {
           Case{"input weight", [](GateWeights& w) { w.input = RowMatrix::Zero(3, 19); }},
           Case{"recurrent weight", [](GateWeights& w) { w.recurrent = RowMatrix::Zero(5, 15); }},
           Case{"input bias", [](GateWeights& w) { w.input_bias = RowVector::Zero(21); }},
           Case{"recurrent bias", [](GateWeights& w) { w.recurrent_bias = RowVector::Zero(5); }},
           Case{"peephole", [](GateWeights& w) { w.peephole = RowVector::Zero(20); }},
       }) {
    GateWeights w = Valid(4, 5, 3, 5);
    c.spoil(w);
    const absl::Status status = w.Validate();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.what;
    EXPECT_THAT(status.message(), HasSubstr(c.what));
    EXPECT_THAT(status.message(),
                AllOf(HasSubstr("want"), HasSubstr(c.what[0] == 'p' ? "15" : "20")));
  }
}

TEST(GateWeightsTest, GatesAndHiddenSizeMustBePositive) {
  GateWeights w = Valid(4, 5, 3, 5);
  w.hidden_size = 0;
  EXPECT_EQ(w.Validate().code(), absl::StatusCode::kInvalidArgument);
  w = Valid(4, 5, 3, 5);
  w.gates = 0;
  EXPECT_EQ(w.Validate().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace rnnserve::model
