// ONNX import refusals: every broken or unsupported model in
// tests/testdata/onnx_bad is refused with a message naming the problem.
// (What imports correctly is fixture_parity_test's job.)
#include "model/importers/onnx_graph.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/engine/gates.h"
#include "model/importers/model_loader.h"
#include "model/importers/onnx_reader.h"
#include "tests/model/test_util.h"
#include "util/file.h"

namespace rnnserve::model {
namespace {

using ::rnnserve::model::testing::TestdataPath;
using ::testing::HasSubstr;

struct BadOnnx {
  std::string folder;
  std::string message_part;
};

class BadOnnxTest : public ::testing::TestWithParam<BadOnnx> {};

TEST_P(BadOnnxTest, IsRefusedNamingTheProblem) {
  const absl::StatusOr<LoadedModel> model =
      LoadModel(TestdataPath("onnx_bad/" + GetParam().folder));
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument) << model.status();
  EXPECT_THAT(model.status().message(), HasSubstr("model.onnx: "));
  EXPECT_THAT(model.status().message(), HasSubstr(GetParam().message_part));
}

INSTANTIATE_TEST_SUITE_P(
    OnnxBad, BadOnnxTest,
    ::testing::Values(
        BadOnnx{"unsupported_op", "node 'Z' (Erf): is not supported"},
        BadOnnx{"missing_initializer", "W ('W_missing') must be an initializer"},
        BadOnnx{"shape_mismatch", "R is [1, 16, 5], want float [1, 16, 4]"},
        BadOnnx{"truncated", "not an ONNX model"}, BadOnnx{"not_onnx", "not an ONNX model"},
        BadOnnx{"wrong_opset", "ai.onnx opset 3; supported: 7 to 22"},
        BadOnnx{"custom_domain", "domain 'com.microsoft' is not supported"},
        BadOnnx{"two_inputs_concat", "a second graph input"},
        // Graphs that are (nearly) valid ONNX but mean something the engine
        // does not compute: refused, never answered differently.
        BadOnnx{"add_missing_input", "(Add): has 1 of the 2 inputs it needs"},
        BadOnnx{"identity_no_output", "(Identity): has no output"},
        BadOnnx{"integer_bias", "(Add): is supported only as the bias of a MatMul head"},
        BadOnnx{"bias_from_zeros_plus_constant", "B ('B_sum') must be an initializer"},
        BadOnnx{"initial_h_zeros_plus_one", "initial_h ('h0') must be an initializer"},
        BadOnnx{"gemm_c_not_constant", "Gemm's C must be a float initializer"},
        BadOnnx{"gemm_data_as_c", "wants the sequence [time, features 4] as its first input"},
        BadOnnx{"bias_wrong_shape", "(Add): is supported only as the bias"},
        BadOnnx{"bias_on_time_axis", "(Add): is supported only as the bias"},
        BadOnnx{"fixed_batch_of_five", "X is [1, time, features 3]"},
        BadOnnx{"layout_as_float", "attribute 'layout' has type FLOAT, want INT"},
        BadOnnx{"clip_as_int", "attribute 'clip' has type INT, want FLOAT"},
        BadOnnx{"hidden_size_overflow", "attribute 'hidden_size' is 4294967300"},
        BadOnnx{"nan_gemm_alpha", "attribute 'alpha' is nan"},
        BadOnnx{"gather_last_step", "(Gather): selects from the sequence"},
        BadOnnx{"slice_on_sequence", "(Slice): is not supported on the data path"}),
    [](const auto& info) { return info.param.folder; });

// The initializer `name` of an ONNX file, as a [rows, cols] matrix.
RowMatrix InitializerOf(const std::string& path, const std::string& name) {
  const absl::StatusOr<std::string> bytes = util::ReadFileToString(path);
  EXPECT_TRUE(bytes.ok());
  const absl::StatusOr<OnnxModel> model = ParseOnnxModel(*bytes);
  EXPECT_TRUE(model.ok());
  const auto constants = CollectConstants(model->proto.graph());
  EXPECT_TRUE(constants.ok());
  const OnnxConstant& c = constants->at(name);
  return ConstRowMatrixMap(c.floats.data(), c.shape[0], c.shape[1]);
}

TEST(OnnxGraphTest, DeadBranchesDoNotChangeTheHead) {
  // The graph output is MatMul(S, W1); an unused MatMul(S, W2) comes last.
  const std::string matmul = TestdataPath("onnx_bad/dead_second_matmul");
  const absl::StatusOr<LoadedModel> model = LoadModel(matmul);
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_TRUE(model->stack->head().has_value());
  EXPECT_TRUE(
      Unpack(model->stack->head()->packed()).isApprox(InitializerOf(matmul + "/model.onnx", "W1")));
  // The graph output is Gemm(S, W1, b1); an unused Sigmoid of it dangles.
  const absl::StatusOr<LoadedModel> gemm = LoadModel(TestdataPath("onnx_bad/dead_sigmoid"));
  ASSERT_TRUE(gemm.ok()) << gemm.status();
  ASSERT_TRUE(gemm->stack->head().has_value());
  EXPECT_EQ(gemm->stack->head()->activation(), HeadActivation::kIdentity);
  EXPECT_TRUE(gemm->stack->head()->has_bias());
}

TEST(OnnxGraphTest, EmptyBytesAreNotAModel) {
  const absl::StatusOr<OnnxImport> imported = ImportOnnxModel("", "empty.onnx");
  ASSERT_FALSE(imported.ok());
  EXPECT_THAT(imported.status().message(), HasSubstr("empty.onnx: not an ONNX model"));
}

TEST(OnnxGraphTest, EveryTruncationIsRefusedWithoutCrashing) {
  absl::StatusOr<std::string> bytes =
      util::ReadFileToString(TestdataPath("onnx/torch_charlm/model.onnx"));
  ASSERT_TRUE(bytes.ok());
  for (size_t size = 0; size < bytes->size(); size += 97) {
    EXPECT_FALSE(ImportOnnxModel(bytes->substr(0, size), "cut.onnx").ok()) << size;
  }
  EXPECT_TRUE(ImportOnnxModel(*bytes, "whole.onnx").ok());
}

TEST(OnnxGraphTest, DescribesTheImport) {
  const absl::StatusOr<LoadedModel> model = LoadModel(TestdataPath("onnx/op_rnn_tanh_yh"));
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->info.cell, "rnn");
  EXPECT_THAT(model->info.format, HasSubstr("output Y_h"));
  EXPECT_EQ(model->stack->sequence_output(), SequenceOutput::kFinalState);
  EXPECT_TRUE(model->stack->streamable());
}

TEST(OnnxGraphTest, InitialStatesSeedNewSessions) {
  const absl::StatusOr<LoadedModel> model = LoadModel(TestdataPath("onnx/op_lstm_initial_state"));
  ASSERT_TRUE(model.ok()) << model.status();
  std::vector<float> state(model->stack->state_size(), 0.0f);
  model->stack->InitState(state.data());
  EXPECT_THAT(state, ::testing::Contains(::testing::Ne(0.0f)));
}

}  // namespace
}  // namespace rnnserve::model

namespace rnnserve::model {
namespace {

// An export-matrix model (tests/testdata/onnx_export), to be changed.
onnx::ModelProto ExportedModel(const std::string& fixture) {
  const absl::StatusOr<std::string> bytes =
      util::ReadFileToString(TestdataPath("onnx_export/" + fixture + "/model.onnx"));
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  onnx::ModelProto model;
  EXPECT_TRUE(model.ParseFromString(*bytes));
  return model;
}

onnx::NodeProto* FindNode(onnx::ModelProto& model, const std::string& op) {
  for (onnx::NodeProto& node : *model.mutable_graph()->mutable_node()) {
    if (node.op_type() == op) return &node;
  }
  ADD_FAILURE() << "no " << op << " node";
  return nullptr;
}

absl::Status Import(const onnx::ModelProto& model) {
  return ImportOnnxModel(model.SerializeAsString(), "changed.onnx").status();
}

TEST(OnnxGraphTest, ExtraOutputsMustBeRecurrentStates) {
  onnx::ModelProto model = ExportedModel("lstm_state_outputs");
  ASSERT_EQ(model.graph().output_size(), 3);  // output, hn, cn
  EXPECT_TRUE(Import(model).ok()) << Import(model);
  // The sequence Y itself as an extra output: a second served output.
  model.mutable_graph()->mutable_output(1)->set_name(FindNode(model, "LSTM")->output(0));
  EXPECT_THAT(Import(model).message(), HasSubstr("uses Y of node"));
  // A weight: not a state either.
  model.mutable_graph()->mutable_output(1)->set_name(model.graph().initializer(0).name());
  EXPECT_THAT(Import(model).message(), HasSubstr("is not computed from a recurrent state"));
}

TEST(OnnxGraphTest, StateInputsOnlyStartStates) {
  onnx::ModelProto model = ExportedModel("lstm_state_inputs");
  ASSERT_EQ(model.graph().input_size(), 3);  // input, h0, c0
  EXPECT_TRUE(Import(model).ok()) << Import(model);
  // h0 fed as the bias would be a value given at run time: refused.
  FindNode(model, "LSTM")->set_input(3, "h0");
  EXPECT_THAT(Import(model).message(),
              HasSubstr("B ('h0') must be an initializer, a Constant or zeros (a graph input"));
}

TEST(OnnxGraphTest, AStateInputWithAnInitializerStartsFromIt) {
  onnx::ModelProto model = ExportedModel("gru_state_inputs");
  onnx::TensorProto* h0 = model.mutable_graph()->add_initializer();
  h0->set_name("h0");
  h0->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : {1, 1, 4}) h0->add_dims(d);
  for (int i = 0; i < 4; ++i) h0->add_float_data(0.5f);
  const absl::StatusOr<OnnxImport> imported = ImportOnnxModel(model.SerializeAsString(), "h0.onnx");
  ASSERT_TRUE(imported.ok()) << imported.status();
  std::vector<float> state(imported->stack.state_size(), 0.0f);
  imported->stack.InitState(state.data());
  EXPECT_THAT(state, ::testing::Each(0.5f));
}

}  // namespace
}  // namespace rnnserve::model
