#include "tests/model/test_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "tests/common/parity_tolerance.h"

namespace rnnserve::model::testing {

std::string TestdataPath(const std::string& relative) {
  return std::string(RNNSERVE_TESTDATA_DIR) + "/" + relative;
}

namespace {

// Subfolders of <repository root>/<relative>, as relative paths, sorted.
std::vector<std::string> Subfolders(const std::string& relative) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(SourcePath(relative))) {
    if (entry.is_directory()) names.push_back(relative + "/" + entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

std::string SourcePath(const std::string& relative) {
  return std::string(RNNSERVE_SOURCE_DIR) + "/" + relative;
}

std::vector<std::string> FixtureFolders(const std::string& group) {
  return Subfolders("tests/testdata/" + group);
}

std::vector<std::pair<std::string, bool>> ManifestStreaming(const std::string& group) {
  std::vector<std::pair<std::string, bool>> rows;
  std::ifstream manifest(TestdataPath(group + "/MANIFEST.txt"));
  EXPECT_TRUE(manifest.good()) << "no " << TestdataPath(group + "/MANIFEST.txt");
  std::string line;
  while (std::getline(manifest, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string name, streaming;
    fields >> name >> streaming;
    EXPECT_TRUE(streaming == "yes" || streaming == "no") << group << "/MANIFEST.txt: " << line;
    rows.emplace_back(name, streaming == "yes");
  }
  return rows;
}

bool ExpectedStreaming(const std::string& folder) {
  if (folder.rfind("models/", 0) == 0) return true;
  const std::filesystem::path path(folder);
  const std::string group = path.parent_path().filename().string();
  const std::string name = path.filename().string();
  for (const auto& [fixture, streaming] : ManifestStreaming(group)) {
    if (fixture == name) return streaming;
  }
  ADD_FAILURE() << folder << " has no row in tests/testdata/" << group << "/MANIFEST.txt";
  return false;
}

std::vector<std::string> DemoModelFolders() {
  std::vector<std::string> versions;
  for (const std::string& model : Subfolders("models")) {
    for (const std::string& version : Subfolders(model)) versions.push_back(version);
  }
  return versions;
}

std::string TestNameOf(const std::string& folder) {
  std::string name = folder.rfind("tests/testdata/", 0) == 0 ? folder.substr(15) : folder;
  std::replace(name.begin(), name.end(), '/', '_');
  return name;
}

StepInput ReferenceSequence::View(int64_t first, int64_t count) const {
  if (count < 0) count = steps() - first;
  if (input.kind == util::NpyArray::Kind::kInteger) {
    return StepInput::Tokens(input.integers.data() + first, count);
  }
  const int64_t width = input.shape.size() > 1 ? input.shape[1] : 1;
  return StepInput::Floats(input.floats.data() + first * width, count);
}

std::vector<ReferenceSequence> LoadSequences(const std::string& fixture_dir) {
  std::vector<ReferenceSequence> sequences;
  if (std::filesystem::exists(fixture_dir + "/sample_input.npy")) {
    absl::StatusOr<util::NpyArray> input = util::ReadNpy(fixture_dir + "/sample_input.npy");
    absl::StatusOr<util::NpyArray> expected = util::ReadNpy(fixture_dir + "/sample_expected.npy");
    EXPECT_TRUE(input.ok()) << input.status();
    EXPECT_TRUE(expected.ok()) << expected.status();
    if (input.ok() && expected.ok()) {
      sequences.push_back({*std::move(input), *std::move(expected)});
    }
    return sequences;
  }
  for (int k = 0;; ++k) {
    const std::string input_path = fixture_dir + "/input_" + std::to_string(k) + ".npy";
    if (!std::filesystem::exists(input_path)) break;
    absl::StatusOr<util::NpyArray> input = util::ReadNpy(input_path);
    absl::StatusOr<util::NpyArray> expected =
        util::ReadNpy(fixture_dir + "/expected_" + std::to_string(k) + ".npy");
    EXPECT_TRUE(input.ok()) << input.status();
    EXPECT_TRUE(expected.ok()) << expected.status();
    if (!input.ok() || !expected.ok()) break;
    ReferenceSequence sequence{*std::move(input), *std::move(expected)};
    const std::string final_path =
        fixture_dir + "/expected_final_" + std::to_string(k) + ".npy";
    if (std::filesystem::exists(final_path)) {
      absl::StatusOr<util::NpyArray> final_state = util::ReadNpy(final_path);
      EXPECT_TRUE(final_state.ok()) << final_state.status();
      if (final_state.ok()) sequence.expected_final = *std::move(final_state);
    }
    sequences.push_back(std::move(sequence));
  }
  return sequences;
}

namespace {

bool IsProbabilityRow(const float* row, int64_t width) {
  if (width < 2) return false;
  double sum = 0.0;
  for (int64_t j = 0; j < width; ++j) {
    if (!(row[j] >= 0.0f && row[j] <= 1.0f)) return false;
    sum += row[j];
  }
  return std::abs(sum - 1.0) <= 1e-4;
}

}  // namespace

::testing::AssertionResult OutputRowNear(const float* got, const float* want, int64_t width,
                                         const LayerStack* stack) {
  for (int64_t j = 0; j < width; ++j) {
    const double error = std::abs(double{got[j]} - want[j]);
    const double tolerance =
        kOutputTolerance * (stack == nullptr ? 1.0 : ::rnnserve::testing::OutputScale(*stack, j));
    if (!(error <= tolerance)) {
      return ::testing::AssertionFailure()
             << "output " << j << ": got " << got[j] << ", want " << want[j] << " (absolute error "
             << error << " > " << tolerance << ")";
    }
  }
  if (!IsProbabilityRow(want, width)) return ::testing::AssertionSuccess();
  for (int64_t j = 0; j < width; ++j) {
    if (want[j] < kSmallestComparedProbability) {
      if (got[j] < kSmallestComparedProbability) continue;
      return ::testing::AssertionFailure()
             << "probability " << j << ": got " << got[j] << ", want " << want[j] << " (below "
             << kSmallestComparedProbability << ")";
    }
    const double log_error = std::abs(std::log(double{got[j]}) - std::log(double{want[j]}));
    if (!(log_error <= kProbabilityRelativeTolerance)) {
      return ::testing::AssertionFailure()
             << "probability " << j << ": got " << got[j] << ", want " << want[j]
             << " (log-space error " << log_error << " > " << kProbabilityRelativeTolerance << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult OutputRowsNear(const float* got, const float* want, int64_t rows,
                                          int64_t width, const LayerStack* stack) {
  for (int64_t r = 0; r < rows; ++r) {
    ::testing::AssertionResult row = OutputRowNear(got + r * width, want + r * width, width, stack);
    if (!row) return ::testing::AssertionFailure() << "row " << r << ", " << row.message();
  }
  return ::testing::AssertionSuccess();
}

std::string MakeTestRepository(
    const std::string& tag, const std::vector<std::pair<std::string, std::string>>& models) {
  const std::filesystem::path root =
      std::filesystem::path(::testing::TempDir()) / (tag + "_" + std::to_string(getpid())) /
      "repo";
  std::filesystem::remove_all(root);
  for (const auto& [fixture, target] : models) {
    std::filesystem::create_directories(root / target);
    std::filesystem::copy(TestdataPath("model/" + fixture), root / target,
                          std::filesystem::copy_options::recursive);
  }
  return root.string();
}

ToolResult RunTool(const std::string& args) {
  const std::string command =
      std::string(RNNSERVE_BIN_DIR) + "/rnnserve-model " + args + " 2>&1";
  ToolResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

void ScratchFolderTest::SetUp() {
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  root_ = std::filesystem::path(::testing::TempDir()) /
          (std::string(test->test_suite_name()) + "_" + test->name());
  std::filesystem::remove_all(root_);
  std::filesystem::create_directories(root_);
}

void ScratchFolderTest::TearDown() {
  std::error_code ignored;
  std::filesystem::remove_all(root_, ignored);
}

std::string ScratchFolderTest::Add(const std::string& relative, const std::string& fixture) {
  const std::filesystem::path target = root_ / relative;
  std::filesystem::create_directories(target);
  std::filesystem::copy(TestdataPath(fixture), target, std::filesystem::copy_options::recursive);
  return target.string();
}

}  // namespace rnnserve::model::testing
