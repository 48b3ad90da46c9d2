// CheckNode on hand-built NodeProtos: enough inputs and an output per op, and
// each attribute the importer reads of the type the ONNX specification gives
// it, finite, and in range; Constant's attributes are its own business.
#include "model/importers/onnx_node_checks.h"

#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rnnserve::model {
namespace {

using ::testing::HasSubstr;

onnx::NodeProto Node(const std::string& op, std::vector<std::string> inputs,
                     std::vector<std::string> outputs) {
  onnx::NodeProto node;
  node.set_op_type(op);
  for (const std::string& in : inputs) node.add_input(in);
  for (const std::string& out : outputs) node.add_output(out);
  return node;
}

onnx::AttributeProto* AddAttribute(onnx::NodeProto& node, const std::string& name,
                                   onnx::AttributeProto::AttributeType type) {
  onnx::AttributeProto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(type);
  return a;
}

TEST(OnnxNodeChecksTest, WellFormedNodesPass) {
  onnx::NodeProto lstm = Node("LSTM", {"X", "W", "R", "B"}, {"Y"});
  AddAttribute(lstm, "hidden_size", onnx::AttributeProto::INT)->set_i(8);
  AddAttribute(lstm, "clip", onnx::AttributeProto::FLOAT)->set_f(3.0f);
  AddAttribute(lstm, "direction", onnx::AttributeProto::STRING)->set_s("forward");
  AddAttribute(lstm, "activation_alpha", onnx::AttributeProto::FLOATS)->add_floats(0.1f);
  EXPECT_TRUE(CheckNode(lstm).ok()) << CheckNode(lstm);
  // A recurrent node may leave Y unnamed and output only Y_h.
  EXPECT_TRUE(CheckNode(Node("GRU", {"X", "W", "R"}, {"", "Y_h"})).ok());
  EXPECT_TRUE(CheckNode(Node("Sigmoid", {"x"}, {"y"})).ok());
  EXPECT_TRUE(CheckNode(Node("Constant", {}, {"c"})).ok());
}

TEST(OnnxNodeChecksTest, TooFewInputsOrNoOutputAreRefused) {
  for (const auto& [node, message] : std::vector<std::pair<onnx::NodeProto, std::string>>{
           {Node("LSTM", {"X", "W"}, {"Y"}), "has 2 of the 3 inputs"},
           {Node("LSTM", {"X", "", "R"}, {"Y"}), "has 2 of the 3 inputs"},  // W left empty
           {Node("Gemm", {"a"}, {"y"}), "has 1 of the 2 inputs"},
           {Node("Sigmoid", {}, {"y"}), "has 0 of the 1 inputs"},
           {Node("RNN", {"X", "W", "R"}, {"", ""}), "has no output"},
           {Node("Add", {"a", "b"}, {"", "y"}), "has no output"},
       }) {
    const absl::Status status = CheckNode(node);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << node.op_type();
    EXPECT_THAT(status.message(), HasSubstr(message)) << node.op_type();
  }
}

TEST(OnnxNodeChecksTest, AttributesOfTheWrongTypeNonFiniteOrOutOfRangeAreRefused) {
  struct Case {
    const char* what;
    void (*add)(onnx::NodeProto&);
    const char* message;
  };
  const Case cases[] = {
      {"layout as FLOAT",
       [](onnx::NodeProto& n) { AddAttribute(n, "layout", onnx::AttributeProto::FLOAT); },
       "attribute 'layout' has type FLOAT, want INT"},
      {"clip as INT",
       [](onnx::NodeProto& n) { AddAttribute(n, "clip", onnx::AttributeProto::INT); },
       "want FLOAT"},
      {"activations as STRING",
       [](onnx::NodeProto& n) { AddAttribute(n, "activations", onnx::AttributeProto::STRING); },
       "want STRINGS"},
      {"clip NaN",
       [](onnx::NodeProto& n) {
         AddAttribute(n, "clip", onnx::AttributeProto::FLOAT)
             ->set_f(std::numeric_limits<float>::quiet_NaN());
       },
       "attribute 'clip' is nan"},
      {"activation_beta inf",
       [](onnx::NodeProto& n) {
         AddAttribute(n, "activation_beta", onnx::AttributeProto::FLOATS)
             ->add_floats(std::numeric_limits<float>::infinity());
       },
       "attribute 'activation_beta' holds inf"},
      {"hidden_size 2^32",
       [](onnx::NodeProto& n) {
         AddAttribute(n, "hidden_size", onnx::AttributeProto::INT)->set_i(int64_t{1} << 32);
       },
       "outside [-2^24, 2^24]"},
  };
  for (const Case& c : cases) {
    onnx::NodeProto node = Node("LSTM", {"X", "W", "R"}, {"Y"});
    c.add(node);
    const absl::Status status = CheckNode(node);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.what;
    EXPECT_THAT(status.message(), HasSubstr(c.message)) << c.what;
  }
  // Attributes the importer does not read are not its business.
  onnx::NodeProto other = Node("LSTM", {"X", "W", "R"}, {"Y"});
  AddAttribute(other, "vendor_hint", onnx::AttributeProto::FLOAT)
      ->set_f(std::numeric_limits<float>::quiet_NaN());
  EXPECT_TRUE(CheckNode(other).ok());
  // Constant's "value_float" etc. are checked where the constant is read.
  onnx::NodeProto constant = Node("Constant", {}, {"c"});
  AddAttribute(constant, "alpha", onnx::AttributeProto::INT);
  EXPECT_TRUE(CheckNode(constant).ok());
}

}  // namespace
}  // namespace rnnserve::model
