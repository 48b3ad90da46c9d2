// The offline tool as users run it: build/bin/rnnserve-model inspect / run.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/model/test_util.h"
#include "util/npy.h"

namespace rnnserve::model {
namespace {

using ::rnnserve::model::testing::RunTool;
using ::rnnserve::model::testing::SourcePath;
using ::rnnserve::model::testing::TestdataPath;
using ::rnnserve::model::testing::ToolResult;
using ::testing::HasSubstr;


std::string TempPath(const std::string& name) {
  return std::filesystem::path(::testing::TempDir()) / name;
}

void ExpectNpyNear(const std::string& got_path, const std::string& want_path) {
  const absl::StatusOr<util::NpyArray> got = util::ReadNpy(got_path);
  const absl::StatusOr<util::NpyArray> want = util::ReadNpy(want_path);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(want.ok()) << want.status();
  ASSERT_EQ(got->shape, want->shape);
  ASSERT_TRUE(testing::OutputRowsNear(got->floats.data(), want->floats.data(), want->shape[0],
                                      want->shape[1]));
}

TEST(RnnserveModelToolTest, InspectDescribesTheModel) {
  const ToolResult r = RunTool("inspect " + TestdataPath("model/charlm"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("token ids [T], vocabulary 11, embedding 5"));
  EXPECT_THAT(r.output, HasSubstr("2 x lstm, hidden 8"));
  EXPECT_THAT(r.output, HasSubstr("dense 8 -> 11, softmax"));
  EXPECT_THAT(r.output, HasSubstr("state:       32 floats"));
  EXPECT_THAT(r.output, HasSubstr("parameters:  "));
}

TEST(RnnserveModelToolTest, InspectAndRunTakeAWeightPrecision) {
  const std::string dir = SourcePath("models/charlm/1");
  const ToolResult fp32 = RunTool("inspect " + dir);
  EXPECT_THAT(fp32.output, HasSubstr("weights:     fp32, 1966080 bytes packed\n"));
  const ToolResult bf16 = RunTool("inspect --weights=bf16 " + dir);
  EXPECT_EQ(bf16.exit_code, 0) << bf16.output;
  EXPECT_THAT(bf16.output, HasSubstr("weights:     bf16, 983040 bytes packed\n"));
  const ToolResult table = RunTool("inspect --weights=int8 " + SourcePath("models"));
  EXPECT_EQ(table.exit_code, 0) << table.output;
  const std::string out = TempPath("charlm_int8_out.npy");
  const ToolResult run = RunTool("run --weights=int8 --model " + dir + " --input " + dir +
                                 "/sample_input.npy --output " + out);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  const ToolResult bad = RunTool("inspect --weights=fp16 " + dir);
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("--weights wants fp32, bf16 or int8"));
}

TEST(RnnserveModelToolTest, InspectShowsTheTransforms) {
  // The demo forecaster takes and returns sunspot numbers (issue 21).
  const ToolResult r = RunTool("inspect " + SourcePath("models/forecast/1"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("input map:   (x - 43.7267) / 34.0611\n"));
  EXPECT_THAT(r.output, HasSubstr("output map:  y * 34.0611 + 43.7267\n"));
  const ToolResult plain = RunTool("inspect " + TestdataPath("model/charlm"));
  EXPECT_THAT(plain.output, ::testing::Not(HasSubstr("map:")));
}

TEST(RnnserveModelToolTest, RunReproducesTheReference) {
  for (const std::string fixture : {"lstm_3layer", "charlm", "gru_bidir", "jordan_tanh"}) {
    const std::string dir = TestdataPath("model/" + fixture);
    const std::string out = TempPath(fixture + "_out.npy");
    const ToolResult r = RunTool("run --model " + dir + " --input " + dir +
                                 "/input_2.npy --output " + out);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    ExpectNpyNear(out, dir + "/expected_2.npy");
  }
}

// The file itself, as every ONNX tool takes it, names its version folder.
TEST(RnnserveModelToolTest, RunAndInspectTakeAModelFile) {
  for (const std::string file :
       {"onnx/torch_lstm_1layer/model.onnx", "model/lstm_1layer/config.json",
        "keras/k341_keras_lstm_stack/model.keras", "keras/k240_gru_reset_after_x2/model.h5"}) {
    SCOPED_TRACE(file);
    const std::string dir = std::filesystem::path(TestdataPath(file)).parent_path();
    const std::string out = TempPath("model_file_out.npy");
    const ToolResult run = RunTool("run --model " + TestdataPath(file) + " --input " + dir +
                                   "/input_1.npy --output " + out);
    ASSERT_EQ(run.exit_code, 0) << run.output;
    ExpectNpyNear(out, dir + "/expected_1.npy");
    const ToolResult inspect = RunTool("inspect " + TestdataPath(file));
    EXPECT_EQ(inspect.exit_code, 0) << inspect.output;
    EXPECT_THAT(inspect.output, HasSubstr("parameters:  "));
    // inspect takes the path as --model too, as run does.
    const ToolResult flag = RunTool("inspect --model " + TestdataPath(file));
    EXPECT_EQ(flag.exit_code, 0) << flag.output;
    EXPECT_EQ(flag.output, inspect.output);
  }
  // One path, not two.
  const ToolResult both = RunTool("inspect --model " + TestdataPath("model/lstm_1layer") + " " +
                                  TestdataPath("model/gru_1layer"));
  EXPECT_EQ(both.exit_code, 2) << both.output;
  EXPECT_THAT(both.output, HasSubstr("exactly one PATH"));
}

// A Keras user's file keeps its own name: it is the model by itself.
TEST(RnnserveModelToolTest, RunTakesAKerasFileOfAnyName) {
  const std::string dir = TestdataPath("keras/k2150_functional_gru_lstm");
  const std::string renamed = TempPath("gru_lstm_model.h5");
  std::filesystem::copy_file(dir + "/model.h5", renamed,
                             std::filesystem::copy_options::overwrite_existing);
  const std::string out = TempPath("keras_named_out.npy");
  const ToolResult run =
      RunTool("run --model " + renamed + " --input " + dir + "/input_2.npy --output " + out);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  ExpectNpyNear(out, dir + "/expected_2.npy");
}

// Keras return_sequences=False on the last layer: inspect says what the
// whole-sequence call returns (steps still answer every step).
TEST(RnnserveModelToolTest, InspectShowsAFinalStepOnlyModel) {
  const ToolResult last = RunTool("inspect " + TestdataPath("keras/k341_keras_lstm_stack"));
  ASSERT_EQ(last.exit_code, 0) << last.output;
  EXPECT_THAT(last.output, HasSubstr("whole-sequence call: the final step's row only, [1, 1]"));
  const ToolResult every = RunTool("inspect " + TestdataPath("keras/k2150_functional_gru_lstm"));
  ASSERT_EQ(every.exit_code, 0) << every.output;
  EXPECT_THAT(every.output, ::testing::Not(HasSubstr("whole-sequence call")));
}

TEST(RnnserveModelToolTest, StateOutThenStateInContinuesTheSequence) {
  // Split input_2 (200 steps) of lstm_proj at step 50 with NumPy-free tools:
  // run the whole thing, then the two halves chained through the state.
  const std::string dir = TestdataPath("model/lstm_proj");
  const absl::StatusOr<util::NpyArray> input = util::ReadNpy(dir + "/input_2.npy");
  ASSERT_TRUE(input.ok());
  const int64_t width = input->shape[1];
  const std::string first = TempPath("first.npy");
  const std::string second = TempPath("second.npy");
  ASSERT_TRUE(util::WriteNpy(first, {50, width}, input->floats.data()).ok());
  ASSERT_TRUE(util::WriteNpy(second, {150, width}, input->floats.data() + 50 * width).ok());
  const std::string state = TempPath("state.npy");
  ASSERT_EQ(RunTool("run --model " + dir + " --input " + first + " --output " +
                    TempPath("out1.npy") + " --state-out " + state).exit_code, 0);
  const ToolResult r = RunTool("run --model " + dir + " --input " + second + " --output " +
                               TempPath("out2.npy") + " --state-in " + state);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const absl::StatusOr<util::NpyArray> expected = util::ReadNpy(dir + "/expected_2.npy");
  const absl::StatusOr<util::NpyArray> got = util::ReadNpy(TempPath("out2.npy"));
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->shape, (std::vector<int64_t>{150, 3}));
  EXPECT_TRUE(
      testing::OutputRowsNear(got->floats.data(), expected->floats.data() + 50 * 3, 150, 3));
}

TEST(RnnserveModelToolTest, AcceptsFloat64Input) {
  const std::string dir = TestdataPath("model/lstm_1layer");
  const std::string out = TempPath("f64_out.npy");
  const ToolResult r = RunTool("run --model " + dir + " --input " +
                               TestdataPath("model_bad/ok_float64.npy") + " --output " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ExpectNpyNear(out, dir + "/expected_1.npy");
}

struct BadRun {
  std::string name;
  std::string args;
  int exit_code;
  std::string message_part;
};

class RnnserveModelToolErrorTest : public ::testing::TestWithParam<BadRun> {};

TEST_P(RnnserveModelToolErrorTest, FailsCleanly) {
  const std::string model = TestdataPath("model/lstm_1layer");
  std::string args = GetParam().args;
  for (auto [key, value] : {std::pair{std::string("MODEL"), model},
                            std::pair{std::string("BAD"), TestdataPath("model_bad")},
                            std::pair{std::string("OUT"), TempPath("bad_out.npy")}}) {
    for (size_t at; (at = args.find(key)) != std::string::npos;) args.replace(at, key.size(), value);
  }
  const ToolResult r = RunTool(args);
  EXPECT_EQ(r.exit_code, GetParam().exit_code) << r.output;
  EXPECT_THAT(r.output, HasSubstr(GetParam().message_part));
}

INSTANTIATE_TEST_SUITE_P(
    Errors, RnnserveModelToolErrorTest,
    ::testing::Values(
        BadRun{"NoCommand", "", 2, "missing command"},
        BadRun{"UnknownCommand", "train", 2, "unknown command \"train\""},
        BadRun{"RunWithoutInput", "run --model MODEL --output OUT", 2, "needs --model, --input"},
        BadRun{"MissingModel", "inspect /nonexistent/model", 1, "config.json"},
        BadRun{"BrokenModel", "inspect BAD/nan_weight", 1, "rnn.weight_hh_l0"},
        BadRun{"MissingModelFile",
               "run --model /nonexistent/model.onnx --input MODEL/input_1.npy --output OUT", 1,
               "/nonexistent/model.onnx does not exist; want a model.onnx, config.json, "
               "model.safetensors, model.keras, model.h5 or model.json file, a version folder"},
        BadRun{"ModelIsAnotherFile",
               "run --model MODEL/input_1.npy --input MODEL/input_1.npy --output OUT", 1,
               "input_1.npy is not a model file; want a model.onnx"},
        BadRun{"InspectAnotherFile", "inspect MODEL/input_1.npy", 1, "is not a model file"},
        BadRun{"MissingInput", "run --model MODEL --input /nonexistent.npy --output OUT", 1,
               "/nonexistent.npy"},
        BadRun{"WrongInputShape",
               "run --model MODEL --input BAD/input_wrong_shape.npy --output OUT", 1,
               "is [7, 5] float, want float [T, 4]"},
        BadRun{"TruncatedInput", "run --model MODEL --input BAD/input_truncated.npy --output OUT",
               1, "input_truncated.npy"},
        BadRun{"FortranInput", "run --model MODEL --input BAD/input_fortran_order.npy --output OUT",
               1, "ortran"},
        BadRun{"FloatsForTokenModel",
               "run --model MODEL/../charlm --input MODEL/input_1.npy --output OUT", 1,
               "want integer token ids"},
        BadRun{
            "StateOfWrongSize",
            "run --model MODEL --input MODEL/input_1.npy --output OUT --state-in MODEL/input_1.npy",
            1, "want a float state [10]"},
        BadRun{
            "StateOnBidirectional",
            "run --model MODEL/../lstm_bidir --input MODEL/../lstm_bidir/input_1.npy --output OUT "
            "--state-out OUT",
            1, "need a streaming model"}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace rnnserve::model
