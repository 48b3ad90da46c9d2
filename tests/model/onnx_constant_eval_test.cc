#include "model/importers/onnx_constant_eval.h"

#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rnnserve::model {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

OnnxConstant Ints(std::vector<int64_t> values, std::vector<int64_t> shape = {}) {
  if (shape.empty()) shape = {static_cast<int64_t>(values.size())};
  return OnnxConstant{.shape = std::move(shape), .is_float = false, .ints = std::move(values)};
}

OnnxConstant Scalar(int64_t value) {
  return OnnxConstant{.shape = {}, .is_float = false, .ints = {value}};
}

OnnxConstant Floats(std::vector<float> values, std::vector<int64_t> shape) {
  return OnnxConstant{.shape = std::move(shape), .floats = std::move(values)};
}

class Node {
 public:
  explicit Node(const std::string& op) {
    proto_.set_op_type(op);
    proto_.add_output("y");
  }
  Node& Int(const std::string& name, int64_t value) {
    onnx::AttributeProto* a = proto_.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(value);
    return *this;
  }
  Node& Ints(const std::string& name, const std::vector<int64_t>& values) {
    onnx::AttributeProto* a = proto_.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t v : values) a->add_ints(v);
    return *this;
  }
  absl::StatusOr<OnnxConstant> Eval(
      std::vector<const OnnxConstant*> inputs, int64_t opset = 14,
      FloatArithmetic float_arithmetic = FloatArithmetic::kRefuse) const {
    absl::StatusOr<std::vector<OnnxConstant>> out =
        EvaluateConstantNode(proto_, inputs, opset, float_arithmetic);
    if (!out.ok()) return out.status();
    EXPECT_EQ(out->size(), 1u);
    return out->front();
  }
  const onnx::NodeProto& proto() const { return proto_; }

 private:
  onnx::NodeProto proto_;
};

// torch.onnx.export without dynamic_axes: h0 = Expand(0, Concat(layers,
// Unsqueeze(Gather(Shape(x), 1)), hidden)), x [T, 1, I].
TEST(OnnxConstantEvalTest, TorchZeroStateIsKnownForABatchOfOne) {
  const OnnxConstant shape = ShapeOf({kSymbolicDim, 1, 3}, Node("Shape").proto());
  EXPECT_THAT(shape.ints, ElementsAre(kSymbolicDim, 1, 3));
  const OnnxConstant one = Scalar(1), zero_axis = Ints({0});
  absl::StatusOr<OnnxConstant> batch = Node("Gather").Eval({&shape, &one});
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_TRUE(batch->shape.empty());
  absl::StatusOr<OnnxConstant> batch1 = Node("Unsqueeze").Eval({&*batch, &zero_axis});
  ASSERT_TRUE(batch1.ok()) << batch1.status();
  const OnnxConstant layers = Ints({2}), hidden = Ints({4});
  absl::StatusOr<OnnxConstant> dims =
      Node("Concat").Int("axis", 0).Eval({&layers, &*batch1, &hidden});
  ASSERT_TRUE(dims.ok()) << dims.status();
  EXPECT_THAT(dims->ints, ElementsAre(2, 1, 4));
  const OnnxConstant zero = Floats({0.0f}, {});
  absl::StatusOr<OnnxConstant> h0 = Node("Expand").Eval({&zero, &*dims});
  ASSERT_TRUE(h0.ok()) << h0.status();
  EXPECT_THAT(h0->shape, ElementsAre(2, 1, 4));
  EXPECT_EQ(h0->floats.size(), 8u);
  EXPECT_TRUE(IsAllZero(*h0));
}

TEST(OnnxConstantEvalTest, TheSequenceLengthMovesButIsNeverComputedWith) {
  const OnnxConstant shape = ShapeOf({kSymbolicDim, 1, 3}, Node("Shape").proto());
  const OnnxConstant first = Ints({0});
  absl::StatusOr<OnnxConstant> time = Node("Gather").Eval({&shape, &first});
  ASSERT_TRUE(time.ok());
  EXPECT_THAT(time->ints, ElementsAre(kSymbolicDim));
  const OnnxConstant two = Ints({2});
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Equal"}) {
    absl::StatusOr<OnnxConstant> out = Node(op).Eval({&*time, &two});
    ASSERT_FALSE(out.ok()) << op;
    EXPECT_THAT(out.status().message(), HasSubstr("sequence length")) << op;
  }
  absl::StatusOr<OnnxConstant> zeros = Node("ConstantOfShape").Eval({&shape});
  ASSERT_FALSE(zeros.ok());
  EXPECT_THAT(zeros.status().message(), HasSubstr("sequence length"));
}

TEST(OnnxConstantEvalTest, IntegerArithmeticBroadcasts) {
  const OnnxConstant a = Ints({6, -7, 8}), b = Scalar(2);
  EXPECT_THAT(Node("Add").Eval({&a, &b})->ints, ElementsAre(8, -5, 10));
  EXPECT_THAT(Node("Sub").Eval({&a, &b})->ints, ElementsAre(4, -9, 6));
  EXPECT_THAT(Node("Mul").Eval({&a, &b})->ints, ElementsAre(12, -14, 16));
  EXPECT_THAT(Node("Div").Eval({&a, &b})->ints, ElementsAre(3, -3, 4));  // truncates
  const OnnxConstant big = Scalar(std::numeric_limits<int64_t>::max());
  EXPECT_FALSE(Node("Mul").Eval({&big, &b}).ok());
  const OnnxConstant zero = Scalar(0);
  EXPECT_FALSE(Node("Div").Eval({&a, &zero}).ok());
}

TEST(OnnxConstantEvalTest, FloatArithmeticIsNotEvaluated) {
  // It would compute weights or states: refused, never guessed.
  const OnnxConstant a = Floats({1, 2}, {2}), b = Floats({1}, {});
  absl::StatusOr<OnnxConstant> out = Node("Add").Eval({&a, &b});
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.status().message(), HasSubstr("computes with floats"));
}

TEST(OnnxConstantEvalTest, FloatArithmeticForTransformsWhenAsked) {
  // The constants torch leaves in a normalising graph (issue 21):
  // Reciprocal(std), Neg(mean), Mul of two buffers; broadcast, in float.
  const OnnxConstant std_dev = Floats({2.0f, 4.0f}, {2}), two = Floats({2.0f}, {});
  const auto ask = FloatArithmetic::kEvaluate;
  absl::StatusOr<OnnxConstant> r = Node("Reciprocal").Eval({&std_dev}, 14, ask);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->floats, ElementsAre(0.5f, 0.25f));
  EXPECT_THAT(Node("Neg").Eval({&std_dev}, 14, ask)->floats, ElementsAre(-2.0f, -4.0f));
  EXPECT_THAT(Node("Mul").Eval({&*r, &std_dev}, 14, ask)->floats, ElementsAre(1.0f, 1.0f));
  EXPECT_THAT(Node("Div").Eval({&std_dev, &two}, 14, ask)->floats, ElementsAre(1.0f, 2.0f));
  EXPECT_THAT(Node("Sub").Eval({&two, &std_dev}, 14, ask)->floats, ElementsAre(0.0f, -2.0f));
  // Not without asking, and never mixed with integers.
  EXPECT_THAT(Node("Reciprocal").Eval({&std_dev}).status().message(),
              HasSubstr("computes with floats"));
  const OnnxConstant one = Ints({1});
  EXPECT_FALSE(Node("Add").Eval({&std_dev, &one}, 14, ask).ok());
}

TEST(OnnxConstantEvalTest, EqualAndWhereAsTorchWritesThem) {
  // Reshape targets: Where(Equal(shape, 0), other, shape).
  const OnnxConstant shape = Ints({0, 4}), zero = Scalar(0), other = Ints({5, 6});
  absl::StatusOr<OnnxConstant> mask = Node("Equal").Eval({&shape, &zero});
  ASSERT_TRUE(mask.ok());
  EXPECT_THAT(mask->ints, ElementsAre(1, 0));
  absl::StatusOr<OnnxConstant> out = Node("Where").Eval({&*mask, &other, &shape});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(out->ints, ElementsAre(5, 4));
}

TEST(OnnxConstantEvalTest, SliceClampsNegativeAndHugeBounds) {
  const OnnxConstant data = Ints({0, 1, 2, 3, 4, 5});
  const OnnxConstant starts = Ints({-4}), ends = Ints({std::numeric_limits<int64_t>::max()});
  EXPECT_THAT(Node("Slice").Eval({&data, &starts, &ends})->ints, ElementsAre(2, 3, 4, 5));
  const OnnxConstant back = Ints({-1}), begin = Ints({std::numeric_limits<int64_t>::min()});
  const OnnxConstant axes = Ints({0}), steps = Ints({-2});
  EXPECT_THAT(Node("Slice").Eval({&data, &back, &begin, &axes, &steps})->ints,
              ElementsAre(5, 3, 1));
  // Opset 9: starts, ends and axes are attributes.
  Node old("Slice");
  old.Ints("starts", {1}).Ints("ends", {3}).Ints("axes", {0});
  EXPECT_THAT(old.Eval({&data}, 9)->ints, ElementsAre(1, 2));
}

// torch without constant folding: the LSTM's W is sliced, concatenated and
// unsqueezed out of weight_ih at load.
TEST(OnnxConstantEvalTest, WeightsComputedFromInitializers) {
  const OnnxConstant w = Floats({1, 2, 3, 4, 5, 6}, {3, 2});
  const OnnxConstant starts = Ints({1}), ends = Ints({3}), axes = Ints({0});
  absl::StatusOr<OnnxConstant> rows = Node("Slice").Eval({&w, &starts, &ends, &axes});
  ASSERT_TRUE(rows.ok());
  EXPECT_THAT(rows->floats, ElementsAre(3, 4, 5, 6));
  absl::StatusOr<OnnxConstant> joined = Node("Concat").Int("axis", 0).Eval({&*rows, &w});
  ASSERT_TRUE(joined.ok());
  EXPECT_THAT(joined->shape, ElementsAre(5, 2));
  absl::StatusOr<OnnxConstant> by_columns = Node("Concat").Int("axis", 1).Eval({&w, &w});
  EXPECT_THAT(by_columns->floats, ElementsAre(1, 2, 1, 2, 3, 4, 3, 4, 5, 6, 5, 6));
  absl::StatusOr<OnnxConstant> w3 = Node("Unsqueeze").Ints("axes", {0}).Eval({&w}, 11);
  ASSERT_TRUE(w3.ok());
  EXPECT_THAT(w3->shape, ElementsAre(1, 3, 2));
  absl::StatusOr<OnnxConstant> t = Node("Transpose").Ints("perm", {1, 0}).Eval({&w});
  EXPECT_THAT(t->shape, ElementsAre(2, 3));
  EXPECT_THAT(t->floats, ElementsAre(1, 3, 5, 2, 4, 6));
  const OnnxConstant column = Scalar(1);
  absl::StatusOr<OnnxConstant> picked = Node("Gather").Int("axis", 1).Eval({&w, &column});
  EXPECT_THAT(picked->shape, ElementsAre(3));
  EXPECT_THAT(picked->floats, ElementsAre(2, 4, 6));
}

TEST(OnnxConstantEvalTest, RangeCastReshapeSqueezeConstantOfShape) {
  const OnnxConstant start = Scalar(1), limit = Scalar(8), delta = Scalar(3);
  EXPECT_THAT(Node("Range").Eval({&start, &limit, &delta})->ints, ElementsAre(1, 4, 7));
  const OnnxConstant v = Ints({1, 2, 3, 4, 5, 6});
  absl::StatusOr<OnnxConstant> f = Node("Cast").Int("to", onnx::TensorProto::FLOAT).Eval({&v});
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->is_float);
  const OnnxConstant target = Ints({0, -1});
  const OnnxConstant two_by_three = Ints({2, 3});
  const OnnxConstant m = *Node("Reshape").Eval({&v, &two_by_three});
  EXPECT_THAT(Node("Reshape").Eval({&m, &target})->shape, ElementsAre(2, 3));
  const OnnxConstant one = Ints({1, 2, 3}, {1, 3});
  EXPECT_THAT(Node("Squeeze").Eval({&one})->shape, ElementsAre(3));
  const OnnxConstant dims = Ints({2, 2});
  absl::StatusOr<OnnxConstant> zeros = Node("ConstantOfShape").Eval({&dims});
  ASSERT_TRUE(zeros.ok());
  EXPECT_TRUE(zeros->is_float);
  EXPECT_THAT(zeros->floats, ElementsAre(0, 0, 0, 0));
}

TEST(OnnxConstantEvalTest, RefusesHugeAndMalformedResults) {
  const OnnxConstant zero = Floats({0}, {}), huge = Ints({1 << 20, 1 << 20});
  absl::StatusOr<OnnxConstant> out = Node("Expand").Eval({&zero, &huge});
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.status().message(), HasSubstr("more than"));
  const OnnxConstant data = Ints({1, 2}), index = Scalar(2);
  EXPECT_FALSE(Node("Gather").Eval({&data, &index}).ok());
  const OnnxConstant negative = Ints({-3});
  EXPECT_FALSE(Node("ConstantOfShape").Eval({&negative}).ok());
  EXPECT_FALSE(Node("Erf").Eval({&data}).ok());
  EXPECT_FALSE(Node("Concat").Int("axis", 0).Eval({&data, &zero}).ok());
}

TEST(OnnxConstantEvalTest, ExtremeIntegersAreRefusedNotOverflowed) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  const OnnxConstant low = Scalar(kMin), high = Scalar(kMax), one = Scalar(1);
  EXPECT_FALSE(Node("Range").Eval({&low, &high, &one}).ok());
  const OnnxConstant min_delta = Scalar(kMin);
  EXPECT_FALSE(Node("Range").Eval({&high, &low, &min_delta}).ok());
  const OnnxConstant data = Ints({0, 1, 2}), starts = Ints({0}), ends = Ints({3});
  const OnnxConstant axes = Ints({0}), min_step = Ints({kMin}), max_step = Ints({kMax});
  EXPECT_FALSE(Node("Slice").Eval({&data, &ends, &starts, &axes, &min_step}).ok());
  EXPECT_THAT(Node("Slice").Eval({&data, &starts, &ends, &axes, &max_step})->ints, ElementsAre(0));
  EXPECT_FALSE(Node("Slice").Eval({&data}).ok());  // opset 10 on: starts and ends are inputs
  const OnnxConstant huge = Ints({kMax / 2, 4, -1});
  EXPECT_FALSE(Node("Reshape").Eval({&data, &huge}).ok());
  const OnnxConstant minus_one = Scalar(-1);
  EXPECT_FALSE(Node("Div").Eval({&low, &minus_one}).ok());
}

TEST(OnnxConstantEvalTest, ShapeHonoursStartAndEnd) {
  Node shape("Shape");
  shape.Int("start", 1).Int("end", -1);
  EXPECT_THAT(ShapeOf({5, 6, 7, 8}, shape.proto()).ints, ElementsAre(6, 7));
}

}  // namespace
}  // namespace rnnserve::model
