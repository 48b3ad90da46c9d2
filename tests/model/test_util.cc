#include "tests/model/test_util.h"

#include <algorithm>
#include <filesystem>

#include "gtest/gtest.h"

namespace rnnserve::model::testing {

std::string TestdataPath(const std::string& relative) {
  return std::string(RNNSERVE_TESTDATA_DIR) + "/" + relative;
}

std::vector<std::string> ModelFixtureNames() {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(TestdataPath("model"))) {
    if (entry.is_directory()) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

StepInput ReferenceSequence::View(int64_t first, int64_t count) const {
  if (count < 0) count = steps() - first;
  if (input.kind == NpyArray::Kind::kInteger) {
    return StepInput::Tokens(input.integers.data() + first, count);
  }
  const int64_t width = input.shape.size() > 1 ? input.shape[1] : 1;
  return StepInput::Floats(input.floats.data() + first * width, count);
}

std::vector<ReferenceSequence> LoadSequences(const std::string& fixture_dir) {
  std::vector<ReferenceSequence> sequences;
  for (int k = 0;; ++k) {
    const std::string input_path = fixture_dir + "/input_" + std::to_string(k) + ".npy";
    if (!std::filesystem::exists(input_path)) break;
    absl::StatusOr<NpyArray> input = ReadNpy(input_path);
    absl::StatusOr<NpyArray> expected =
        ReadNpy(fixture_dir + "/expected_" + std::to_string(k) + ".npy");
    EXPECT_TRUE(input.ok()) << input.status();
    EXPECT_TRUE(expected.ok()) << expected.status();
    if (!input.ok() || !expected.ok()) break;
    sequences.push_back({*std::move(input), *std::move(expected)});
  }
  return sequences;
}

}  // namespace rnnserve::model::testing
