// The ONNX reader on hand-built protos: tensors from raw little-endian bytes
// (written out byte by byte here) and from typed fields in every supported
// type, each malformed tensor refused with its name, the opset window,
// Constant nodes' value forms, and attribute defaults.
#include "model/importers/onnx_reader.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rnnserve::model {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

onnx::TensorProto Tensor(const std::string& name, int type, std::vector<int64_t> dims) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(type);
  for (int64_t d : dims) t.add_dims(d);
  return t;
}

TEST(OnnxReaderTest, RawDataIsLittleEndianInEveryType) {
  struct Case {
    int type;
    std::string bytes;
    std::vector<float> floats;
    std::vector<int64_t> ints;
  };
  const Case cases[] = {
      // 1.0f = 0x3f800000, -2.5f = 0xc0200000
      {onnx::TensorProto::FLOAT, std::string("\x00\x00\x80\x3f\x00\x00\x20\xc0", 8), {1.0f, -2.5f}},
      // 0.5 = 0x3fe0000000000000, -4.0 = 0xc010000000000000
      {onnx::TensorProto::DOUBLE,
       std::string("\0\0\0\0\0\0\xe0\x3f\0\0\0\0\0\0\x10\xc0", 16),
       {0.5f, -4.0f}},
      // half 1.0 = 0x3c00, -2.0 = 0xc000
      {onnx::TensorProto::FLOAT16, std::string("\x00\x3c\x00\xc0", 4), {1.0f, -2.0f}},
      // bfloat16 1.0 = 0x3f80, -2.5 = 0xc020
      {onnx::TensorProto::BFLOAT16, std::string("\x80\x3f\x20\xc0", 4), {1.0f, -2.5f}},
      {onnx::TensorProto::INT32, std::string("\x07\x00\x00\x00\xfe\xff\xff\xff", 8), {}, {7, -2}},
      {onnx::TensorProto::INT64,
       std::string("\x05\0\0\0\0\0\0\0\xff\xff\xff\xff\xff\xff\xff\xff", 16),
       {},
       {5, -1}},
  };
  for (const Case& c : cases) {
    onnx::TensorProto t = Tensor("w", c.type, {2});
    t.set_raw_data(c.bytes);
    const absl::StatusOr<OnnxConstant> got = ConvertTensor(t);
    ASSERT_TRUE(got.ok()) << c.type << ": " << got.status();
    EXPECT_THAT(got->shape, ElementsAre(2));
    EXPECT_EQ(got->is_float, c.ints.empty()) << c.type;
    EXPECT_EQ(got->floats, c.floats) << c.type;
    EXPECT_EQ(got->ints, c.ints) << c.type;
  }
}

TEST(OnnxReaderTest, TypedFieldsInEveryType) {
  onnx::TensorProto f = Tensor("f", onnx::TensorProto::FLOAT, {2, 1});
  f.add_float_data(0.25f);
  f.add_float_data(-1.0f);
  EXPECT_EQ(ConvertTensor(f)->floats, (std::vector<float>{0.25f, -1.0f}));
  onnx::TensorProto d = Tensor("d", onnx::TensorProto::DOUBLE, {1});
  d.add_double_data(0.125);
  EXPECT_EQ(ConvertTensor(d)->floats, (std::vector<float>{0.125f}));
  onnx::TensorProto h = Tensor("h", onnx::TensorProto::FLOAT16, {1});
  h.add_int32_data(0x3800);  // half 0.5
  EXPECT_EQ(ConvertTensor(h)->floats, (std::vector<float>{0.5f}));
  onnx::TensorProto i = Tensor("i", onnx::TensorProto::INT64, {3});
  for (int64_t v : {1, -2, 3}) i.add_int64_data(v);
  EXPECT_EQ(ConvertTensor(i)->ints, (std::vector<int64_t>{1, -2, 3}));
  // A scalar: no dims, one value.
  onnx::TensorProto s = Tensor("s", onnx::TensorProto::FLOAT, {});
  s.add_float_data(2.0f);
  EXPECT_EQ(ConvertTensor(s)->size(), 1);
}

TEST(OnnxReaderTest, MalformedTensorsAreRefusedByName) {
  struct Case {
    const char* what;
    onnx::TensorProto tensor;
    const char* message;
  };
  std::vector<Case> cases;
  onnx::TensorProto t = Tensor("short_raw", onnx::TensorProto::FLOAT, {2});
  t.set_raw_data(std::string(7, '\0'));
  cases.push_back({"raw size", t, "raw data has 7 bytes, want 8"});
  t = Tensor("few_values", onnx::TensorProto::FLOAT, {3});
  t.add_float_data(1.0f);
  cases.push_back({"typed count", t, "holds 1 values, want 3"});
  t = Tensor("strings", onnx::TensorProto::STRING, {1});
  cases.push_back({"type", t, "data type 8 is not supported"});
  t = Tensor("external", onnx::TensorProto::FLOAT, {1});
  t.set_data_location(onnx::TensorProto::EXTERNAL);
  cases.push_back({"external", t, "external data"});
  t = Tensor("negative", onnx::TensorProto::FLOAT, {-1});
  cases.push_back({"dim", t, "negative or absurd dimension"});
  t = Tensor("nan", onnx::TensorProto::FLOAT, {1});
  t.add_float_data(std::numeric_limits<float>::quiet_NaN());
  cases.push_back({"NaN", t, "value 0 is nan"});
  t = Tensor("huge_double", onnx::TensorProto::DOUBLE, {1});
  t.add_double_data(1e300);  // finite, but not as a float
  cases.push_back({"double beyond float", t, "value 0 is inf"});
  for (const Case& c : cases) {
    const absl::Status status = ConvertTensor(c.tensor).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.what;
    EXPECT_THAT(status.message(), HasSubstr("'" + c.tensor.name() + "'")) << c.what;
    EXPECT_THAT(status.message(), HasSubstr(c.message)) << c.what;
  }
}

std::string ModelBytes(const std::string& domain, int64_t opset, bool with_node = true) {
  onnx::ModelProto model;
  onnx::OperatorSetIdProto* id = model.add_opset_import();
  id->set_domain(domain);
  id->set_version(opset);
  onnx::GraphProto* graph = model.mutable_graph();
  if (with_node) {
    onnx::NodeProto* node = graph->add_node();
    node->set_op_type("Relu");
    node->add_input("x");
    node->add_output("y");
  }
  return model.SerializeAsString();
}

TEST(OnnxReaderTest, ParseChecksTheOpsetWindowAndTheGraph) {
  for (int64_t opset : {kMinOnnxOpset, int64_t{14}, kMaxOnnxOpset}) {
    const absl::StatusOr<OnnxModel> model = ParseOnnxModel(ModelBytes("", opset));
    ASSERT_TRUE(model.ok()) << opset << ": " << model.status();
    EXPECT_EQ(model->opset, opset);
  }
  EXPECT_EQ(ParseOnnxModel(ModelBytes("ai.onnx", 14))->opset, 14);
  for (int64_t opset : {kMinOnnxOpset - 1, kMaxOnnxOpset + 1}) {
    const absl::Status status = ParseOnnxModel(ModelBytes("", opset)).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << opset;
    EXPECT_THAT(status.message(), HasSubstr("opset " + std::to_string(opset)));
  }
  // Only a custom domain: no ai.onnx opset at all.
  EXPECT_FALSE(ParseOnnxModel(ModelBytes("com.example", 14)).ok());
  EXPECT_THAT(ParseOnnxModel(ModelBytes("", 14, false)).status().message(),
              HasSubstr("no graph nodes"));
  EXPECT_THAT(ParseOnnxModel("\xff\xff not protobuf").status().message(),
              HasSubstr("not an ONNX model"));
}

TEST(OnnxReaderTest, CollectConstantsReadsInitializersAndConstantNodes) {
  onnx::GraphProto graph;
  onnx::TensorProto* init = graph.add_initializer();
  *init = Tensor("W", onnx::TensorProto::FLOAT, {1});
  init->add_float_data(3.0f);
  const auto add_constant = [&graph](const std::string& out, const std::string& attribute) {
    onnx::NodeProto* node = graph.add_node();
    node->set_op_type("Constant");
    node->add_output(out);
    onnx::AttributeProto* a = node->add_attribute();
    a->set_name(attribute);
    return a;
  };
  add_constant("f", "value_float")->set_f(1.5f);
  onnx::AttributeProto* floats = add_constant("fs", "value_floats");
  floats->add_floats(1.0f);
  floats->add_floats(2.0f);
  onnx::AttributeProto* ints = add_constant("is", "value_ints");
  ints->add_ints(4);
  ints->add_ints(-5);
  onnx::AttributeProto* tensor = add_constant("t", "value");
  *tensor->mutable_t() = Tensor("", onnx::TensorProto::INT64, {1});
  tensor->mutable_t()->add_int64_data(9);
  const auto constants = CollectConstants(graph);
  ASSERT_TRUE(constants.ok()) << constants.status();
  EXPECT_EQ(constants->at("W").floats, (std::vector<float>{3.0f}));
  EXPECT_EQ(constants->at("f").floats, (std::vector<float>{1.5f}));
  EXPECT_THAT(constants->at("fs").shape, ElementsAre(2));
  EXPECT_EQ(constants->at("is").ints, (std::vector<int64_t>{4, -5}));
  EXPECT_FALSE(constants->at("is").is_float);
  EXPECT_EQ(constants->at("t").ints, (std::vector<int64_t>{9}));

  add_constant("bad", "value_float")->set_f(std::numeric_limits<float>::infinity());
  EXPECT_THAT(CollectConstants(graph).status().message(), HasSubstr("weights must be finite"));
  graph.mutable_node()->RemoveLast();
  add_constant("s", "value_string");
  EXPECT_THAT(CollectConstants(graph).status().message(),
              HasSubstr("Constant attribute 'value_string' is not supported"));
}

TEST(OnnxReaderTest, AttributesFallBackToTheGivenDefaults) {
  onnx::NodeProto node;
  node.set_op_type("LSTM");
  node.add_output("Y");
  onnx::AttributeProto* hidden = node.add_attribute();
  hidden->set_name("hidden_size");
  hidden->set_i(8);
  onnx::AttributeProto* acts = node.add_attribute();
  acts->set_name("activations");
  acts->add_strings("Sigmoid");
  acts->add_strings("Tanh");
  const NodeAttributes attributes(node);
  EXPECT_TRUE(attributes.Has("hidden_size"));
  EXPECT_FALSE(attributes.Has("clip"));
  EXPECT_EQ(attributes.Int("hidden_size", 0), 8);
  EXPECT_EQ(attributes.Int("layout", 0), 0);
  EXPECT_EQ(attributes.Float("clip", -1.0f), -1.0f);
  EXPECT_EQ(attributes.String("direction", "forward"), "forward");
  EXPECT_THAT(attributes.Strings("activations"), ElementsAre("Sigmoid", "Tanh"));
  EXPECT_TRUE(attributes.Floats("activation_alpha").empty());
  EXPECT_EQ(DescribeNode(node), "node 'Y' (LSTM)");
  node.set_name("lstm0");
  EXPECT_EQ(DescribeNode(node), "node 'lstm0' (LSTM)");
}

}  // namespace
}  // namespace rnnserve::model
