// Helpers shared by the model tests: fixture paths and loading.
#ifndef RNNSERVE_TESTS_MODEL_TEST_UTIL_H_
#define RNNSERVE_TESTS_MODEL_TEST_UTIL_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "model/importers/model_loader.h"
#include "util/npy.h"

namespace rnnserve::model::testing {

// tests/testdata/<relative>.
std::string TestdataPath(const std::string& relative);

// The fixture folders under tests/testdata/<group> ("model", "onnx"), as
// paths relative to the repository root, sorted.
std::vector<std::string> FixtureFolders(const std::string& group);

// The fixture names MANIFEST.txt of tests/testdata/<group> lists, each with
// its `streaming` column (true for "yes"), in file order.
std::vector<std::pair<std::string, bool>> ManifestStreaming(const std::string& group);

// Whether a fixture folder (as FixtureFolders or DemoModelFolders name it) is
// stepped as well as run whole: its MANIFEST.txt row says so; every bundled
// demo model is. Fails the calling test if a fixture has no row. Tests skip
// by this, never by the code's own LayerStack::streamable().
bool ExpectedStreaming(const std::string& folder);

// The bundled demo model versions, models/<name>/<version>, relative to the
// repository root, sorted.
std::vector<std::string> DemoModelFolders();

// <repository root>/<relative>.
std::string SourcePath(const std::string& relative);

// "tests/testdata/onnx/torch_lstm" -> "onnx_torch_lstm", for test names.
std::string TestNameOf(const std::string& folder);

// One reference sequence of a fixture: input_<k>.npy and expected_<k>.npy.
struct ReferenceSequence {
  util::NpyArray input;
  util::NpyArray expected;  // float32 [T, output_size]
  // expected_final_<k>.npy, for models whose whole-sequence output is their
  // final state (ONNX Y_h): float32 [1, output_size]. Empty otherwise.
  std::optional<util::NpyArray> expected_final;
  int64_t steps() const { return input.shape[0]; }
  StepInput View(int64_t first = 0, int64_t count = -1) const;
};

// Every input_<k>.npy / expected_<k>.npy pair of a fixture folder, or its
// sample_input.npy / sample_expected.npy (the demo models).
std::vector<ReferenceSequence> LoadSequences(const std::string& fixture_dir);

// The one comparison of an output row against its reference row, for every
// parity test (model, demo model and server). Every value must be within
// kOutputTolerance (1e-5) absolute. A reference row that is a probability
// distribution (width > 1, values in [0, 1], summing to 1 within 1e-4: a
// softmax head) is compared in log space as well: each probability within
// kProbabilityRelativeTolerance relative, so the small ones (22.8% of the
// demo charlm's are below 1e-5) are checked too. Probabilities below
// kSmallestComparedProbability only need to stay below it. The log-space
// check only ever adds to the absolute one, so a row mistaken for
// probabilities is checked harder, never less. With `stack`, the absolute
// tolerance is in the model's units: times its output transform's scale
// (OutputScale, tests/common/parity_tolerance.h; issue 21).
inline constexpr double kOutputTolerance = 1e-5;
inline constexpr double kProbabilityRelativeTolerance = 1e-4;
inline constexpr double kSmallestComparedProbability = 1e-30;
::testing::AssertionResult OutputRowNear(const float* got, const float* want, int64_t width,
                                         const LayerStack* stack = nullptr);
// OutputRowNear on each of `rows` rows of `width` values; names the row.
::testing::AssertionResult OutputRowsNear(const float* got, const float* want, int64_t rows,
                                          int64_t width, const LayerStack* stack = nullptr);

// A model repository <TempDir>/<tag>_<pid>/repo (fresh) holding, for each
// {fixture, "name/version"}, a copy of tests/testdata/model/<fixture>.
// Per process: ctest runs test cases in parallel processes.
std::string MakeTestRepository(
    const std::string& tag, const std::vector<std::pair<std::string, std::string>>& models);

// build/bin/rnnserve-model run with `args` (a shell command line), as users
// run it: its exit code and what it printed on stdout and stderr.
struct ToolResult {
  int exit_code = -1;
  std::string output;
};
ToolResult RunTool(const std::string& args);

// A fresh folder per test, <TempDir>/<suite>_<test>, removed afterwards, to
// fill from fixture folders.
class ScratchFolderTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Copies tests/testdata/<fixture> (e.g. "model/lstm_1layer") to ROOT/<relative>.
  std::string Add(const std::string& relative, const std::string& fixture);
  std::string root() const { return root_.string(); }
  const std::filesystem::path& root_path() const { return root_; }

 private:
  std::filesystem::path root_;
};

}  // namespace rnnserve::model::testing

#endif  // RNNSERVE_TESTS_MODEL_TEST_UTIL_H_
