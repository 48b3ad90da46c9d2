// ONNX import refusals: every broken or unsupported model in
// tests/testdata/onnx_bad is refused with a message naming the problem.
// (What imports correctly is fixture_parity_test's job.)
#include "model/onnx_graph.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/file_util.h"
#include "model/model_loader.h"
#include "tests/model/test_util.h"

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
        BadOnnx{"truncated", "not an ONNX model"},
        BadOnnx{"not_onnx", "not an ONNX model"},
        BadOnnx{"wrong_opset", "ai.onnx opset 3; supported: 7 to 22"},
        BadOnnx{"custom_domain", "domain 'com.microsoft' is not supported"},
        BadOnnx{"external_data", "external data files are not supported"},
        BadOnnx{"two_inputs_concat", "a second graph input"}),
    [](const auto& info) { return info.param.folder; });

TEST(OnnxGraphTest, EmptyBytesAreNotAModel) {
  const absl::StatusOr<OnnxImport> imported = ImportOnnxModel("", "empty.onnx");
  ASSERT_FALSE(imported.ok());
  EXPECT_THAT(imported.status().message(), HasSubstr("empty.onnx: not an ONNX model"));
}

TEST(OnnxGraphTest, EveryTruncationIsRefusedWithoutCrashing) {
  absl::StatusOr<std::string> bytes =
      ReadFileToString(TestdataPath("onnx/torch_charlm/model.onnx"));
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
