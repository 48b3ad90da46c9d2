// `stream` against a spawned server: the demo models' sample inputs must give
// the training script's expected outputs, whatever the input format, chunk
// size, output format or transport.
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/cli_test_util.h"
#include "util/npy.h"

namespace rnnserve::client::testing {
namespace {

using ::testing::HasSubstr;

constexpr double kTolerance = 1e-5;

util::NpyArray Load(const std::string& relative) {
  absl::StatusOr<util::NpyArray> array = util::ReadNpy(SourcePath(relative));
  EXPECT_TRUE(array.ok()) << array.status();
  return array.ok() ? *std::move(array) : util::NpyArray();
}

// Rows [first, first + rows.size()) of `expected` [T, width] match `rows`.
void ExpectRows(const std::vector<std::vector<float>>& rows, const util::NpyArray& expected,
                int64_t first = 0, double tolerance = kTolerance) {
  ASSERT_EQ(expected.shape.size(), 2u);
  const int64_t width = expected.shape[1];
  ASSERT_EQ(static_cast<int64_t>(rows.size()) + first, expected.shape[0]);
  double worst = 0;
  for (size_t t = 0; t < rows.size(); ++t) {
    ASSERT_EQ(static_cast<int64_t>(rows[t].size()), width) << "row " << t;
    for (int64_t i = 0; i < width; ++i) {
      const double diff = std::fabs(rows[t][i] - expected.floats[(first + t) * width + i]);
      worst = std::max(worst, std::isnan(diff) ? INFINITY : diff);
    }
  }
  EXPECT_LE(worst, tolerance);
}

// The sample input of `model` as CSV text, one step per line.
std::string SampleCsv(const std::string& model) {
  const util::NpyArray input = Load("models/" + model + "/1/sample_input.npy");
  std::string csv;
  for (int64_t t = 0; t < input.shape[0]; ++t) {
    // %.9g: every float32 reads back exactly.
    absl::StrAppend(&csv,
                    input.kind == util::NpyArray::Kind::kInteger
                        ? absl::StrCat(input.integers[t])
                        : absl::StrFormat("%.9g", input.floats[t]),
                    "\n");
  }
  return csv;
}

class StreamCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<ServerProcess>> server = ServerProcess::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    flag_ = "--server=" + server_->address();
  }
  CliResult Stream(std::vector<std::string> args, const std::string& stdin_text = "") {
    args.insert(args.begin(), "stream");
    args.push_back(flag_);
    return RunCli(args, stdin_text);
  }
  std::unique_ptr<ServerProcess> server_;
  std::string flag_;
};

TEST_F(StreamCommandTest, ForecastNpyGivesTheExpectedOutputs) {
  const CliResult r =
      Stream({"--model=forecast", "--input=" + SourcePath("models/forecast/1/sample_input.npy")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectRows(ParseCsv(r.out), Load("models/forecast/1/sample_expected.npy"), 0, kForecastTolerance);
}

TEST_F(StreamCommandTest, ChunkedTheSame) {
  for (const char* chunk : {"7", "50", "64"}) {
    const CliResult r = Stream({"--model=forecast", "--chunk", chunk,
                                "--input=" + SourcePath("models/forecast/1/sample_input.npy")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ExpectRows(ParseCsv(r.out), Load("models/forecast/1/sample_expected.npy"), 0,
               kForecastTolerance);
  }
}

TEST_F(StreamCommandTest, OnnxTwinAndUnaryTheSame) {
  CliResult r = Stream({"--model=forecast_onnx",
                        "--input=" + SourcePath("models/forecast_onnx/1/sample_input.npy")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectRows(ParseCsv(r.out), Load("models/forecast_onnx/1/sample_expected.npy"), 0,
             kForecastTolerance);
  r = Stream({"--model=forecast", "--unary", "--chunk=3",
              "--input=" + SourcePath("models/forecast/1/sample_input.npy")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectRows(ParseCsv(r.out), Load("models/forecast/1/sample_expected.npy"), 0, kForecastTolerance);
}

TEST_F(StreamCommandTest, CsvFileAndStdinTheSame) {
  const std::string csv = SampleCsv("forecast");
  const std::string path = TempPath("forecast.csv");
  WriteFile(path, "# sunspots, normalised\n" + csv);
  CliResult r = Stream({"--model=forecast", "--input", path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectRows(ParseCsv(r.out), Load("models/forecast/1/sample_expected.npy"), 0, kForecastTolerance);
  r = Stream({"--model=forecast", "--input=-", "--chunk=4"}, csv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectRows(ParseCsv(r.out), Load("models/forecast/1/sample_expected.npy"), 0, kForecastTolerance);
}

TEST_F(StreamCommandTest, JsonLinesNumberTheSessionsSteps) {
  const CliResult r = Stream({"--model=forecast", "--format=jsonl", "--chunk=5",
                              "--input=" + SourcePath("models/forecast/1/sample_input.npy")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const util::NpyArray expected = Load("models/forecast/1/sample_expected.npy");
  std::vector<std::vector<float>> rows;
  int64_t step = 0;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    const nlohmann::json json = nlohmann::json::parse(line);
    EXPECT_EQ(json["step"], ++step);
    rows.push_back(json["output"].get<std::vector<float>>());
  }
  ExpectRows(rows, expected, 0, kForecastTolerance);
}

TEST_F(StreamCommandTest, TokenModelFromNpyAndIntegerCsv) {
  const util::NpyArray expected = Load("models/charlm/1/sample_expected.npy");
  CliResult r =
      Stream({"--model=charlm", "--input=" + SourcePath("models/charlm/1/sample_input.npy")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectRows(ParseCsv(r.out), expected);
  r = Stream({"--model=charlm", "--input=-", "--chunk=10"}, SampleCsv("charlm"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectRows(ParseCsv(r.out), expected);
}

TEST_F(StreamCommandTest, LastOutputsOnly) {
  const CliResult r = Stream({"--model=forecast", "--chunk=10", "--outputs=last",
                              "--input=" + SourcePath("models/forecast/1/sample_input.npy")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::vector<float>> rows = ParseCsv(r.out);
  const util::NpyArray expected = Load("models/forecast/1/sample_expected.npy");
  ASSERT_EQ(rows.size(), 5u);
  for (int i = 0; i < 5; ++i)
    EXPECT_NEAR(rows[i][0], expected.floats[10 * i + 9], kForecastTolerance);
}

TEST_F(StreamCommandTest, NamedSessionContinuesAcrossRuns) {
  const std::string csv = SampleCsv("forecast");
  const size_t half = [&] {
    size_t at = 0;
    for (int line = 0; line < 20; ++line) at = csv.find('\n', at) + 1;
    return at;
  }();
  CliResult r =
      Stream({"--model=forecast", "--session=continued", "--input=-"}, csv.substr(0, half));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::vector<float>> rows = ParseCsv(r.out);
  // No --model: the session's own.
  r = Stream({"--session=continued", "--input=-", "--end"}, csv.substr(half));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (auto& row : ParseCsv(r.out)) rows.push_back(row);
  ExpectRows(rows, Load("models/forecast/1/sample_expected.npy"), 0, kForecastTolerance);
  // --end ended it.
  EXPECT_EQ(RunCli({"session", "describe", "continued", flag_}).exit_code, 1);
}

TEST_F(StreamCommandTest, BadInputIsALocalErrorNamingTheLine) {
  CliResult r = Stream({"--model=forecast", "--input=-"}, "0.5\n0.25, 1\n");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.err, HasSubstr("stdin:2: 2 values, want 1"));
  EXPECT_EQ(ParseCsv(r.out).size(), 1u);  // the good first step was answered

  r = Stream({"--model=charlm", "--input=-"}, "5\n98\n");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.err, HasSubstr("stdin:2: token id 98 is outside [0, 98)"));

  r = Stream({"--model=forecast", "--input=" + TempPath("missing.csv")});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.err, HasSubstr("cannot open"));

  // charlm's [43, 98] expected outputs are no token ids.
  r = Stream({"--model=charlm", "--input=" + SourcePath("models/charlm/1/sample_expected.npy")});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.err, HasSubstr("want [T] or [T, 1] token ids"));

  WriteFile(TempPath("bad.npy"), "not numpy");
  r = Stream({"--model=forecast", "--input=" + TempPath("bad.npy")});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.err, HasSubstr("not a .npy file"));
}

TEST_F(StreamCommandTest, ServerErrorsAreRpcErrors) {
  CliResult r = Stream({"--model=no_such_model", "--input=-"}, "1\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("NOT_FOUND"));
  // A session bound to forecast, stepped as charlm: the server refuses.
  ASSERT_EQ(Stream({"--model=forecast", "--session=bound", "--input=-"}, "1\n").exit_code, 0);
  r = Stream({"--model=charlm", "--session=bound", "--input=-"}, "1\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("FAILED_PRECONDITION"));
  EXPECT_EQ(Stream({"--model=forecast", "--input=-", "--format=xml"}, "1\n").exit_code, 2);
}

}  // namespace
}  // namespace rnnserve::client::testing
