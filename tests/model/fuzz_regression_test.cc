// Every input a fuzzer of fuzz/ stopped on (a crash, a sanitizer report or a
// broken invariant), kept in tests/testdata/fuzz_regressions/<fuzzer>/ and fed
// again to what that fuzzer feeds it: each must now be refused with
// INVALID_ARGUMENT, or, when its name starts with "valid_", be accepted and
// pass the fuzzer's check. README.txt there says where each came from.
#include <algorithm>
#include <filesystem>
#include <ostream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "model/importers/config.h"
#include "model/importers/model_loader.h"
#include "model/importers/safetensors_reader.h"
#include "model/importers/tfjs_model.h"
#include "tests/model/test_util.h"
#include "util/file.h"
#include "util/npy.h"

namespace rnnserve::model {
namespace {

using ::rnnserve::model::testing::TestdataPath;

struct Regression {
  std::string fuzzer;  // a folder of tests/testdata/fuzz_regressions
  std::string file;
};

void PrintTo(const Regression& r, std::ostream* os) { *os << r.fuzzer << "/" << r.file; }

// The fuzzers of fuzz/ whose input Feed() below knows how to feed. Each has
// a folder, with at least its valid_ input: a missing or renamed folder
// fails FuzzRegressionFoldersTest instead of quietly testing nothing.
constexpr const char* kFedFuzzers[] = {"npy_fuzzer",          "config_fuzzer", "safetensors_fuzzer",
                                       "native_model_fuzzer", "onnx_fuzzer",   "keras_fuzzer"};

std::vector<Regression> Regressions() {
  std::vector<Regression> out;
  const std::filesystem::path root = TestdataPath("fuzz_regressions");
  for (const char* fuzzer : kFedFuzzers) {
    std::error_code missing;  // FuzzRegressionFoldersTest reports it.
    for (const auto& entry : std::filesystem::directory_iterator(root / fuzzer, missing)) {
      out.push_back({fuzzer, entry.path().filename().string()});
    }
  }
  std::sort(out.begin(), out.end(), [](const Regression& a, const Regression& b) {
    return std::tie(a.fuzzer, a.file) < std::tie(b.fuzzer, b.file);
  });
  return out;
}

// What fuzz/fuzz_util.cc CheckRuns() asks of a loaded model, as expectations.
void ExpectRuns(const LayerStack& stack) {
  const bool tokens = stack.input_kind() == InputKind::kTokens;
  const std::vector<float> floats(3 * stack.input_size(), 0.0f);
  const std::vector<int64_t> ids(3, 0);
  const StepInput input =
      tokens ? StepInput::Tokens(ids.data(), 3) : StepInput::Floats(floats.data(), 3);
  EXPECT_TRUE(stack.RunSequence(input).ok());
  if (!stack.streamable()) return;
  std::vector<float> state(stack.state_size());
  stack.InitState(state.data());
  std::vector<float> outputs(3 * stack.output_size());
  Workspace workspace;
  EXPECT_TRUE(stack.StepChunk(state.data(), input, outputs.data(), workspace).ok());
}

// The fuzzer's call on `bytes`; runs its follow-up check when accepted.
absl::Status Feed(const std::string& fuzzer, absl::string_view bytes) {
  if (fuzzer == "npy_fuzzer") {
    absl::StatusOr<util::NpyArray> array = util::ParseNpy(bytes, "regression.npy");
    if (array.ok() && array->kind == util::NpyArray::Kind::kFloat) {
      absl::StatusOr<util::NpyArray> again =
          util::ParseNpy(util::SerializeNpy(array->shape, array->floats.data()), "again.npy");
      EXPECT_TRUE(again.ok() && again->shape == array->shape) << again.status();
    }
    return array.status();
  }
  if (fuzzer == "config_fuzzer") return ParseModelConfig(bytes).status();
  if (fuzzer == "safetensors_fuzzer") {
    return SafetensorsFile::Parse(bytes, "regression.safetensors").status();
  }
  absl::StatusOr<LoadedModel> model;
  if (fuzzer == "onnx_fuzzer") {
    model = LoadOnnxModel(bytes, "regression");
  } else if (fuzzer == "keras_fuzzer" && absl::StartsWith(bytes, "{")) {
    // TF.js: model.json, a NUL, then the shards, all returned by the first
    // shard read (fuzz/keras_fuzzer.cc).
    const size_t split = std::min(bytes.find('\0'), bytes.size());
    std::string shard(bytes.substr(std::min(split + 1, bytes.size())));
    absl::StatusOr<KerasImport> imported = ImportTfjsModel(
        bytes.substr(0, split),
        [&](const std::string&, int64_t) -> absl::StatusOr<std::string> {
          return std::exchange(shard, std::string());
        },
        "regression/model.json");
    if (imported.ok()) ExpectRuns(imported->stack);
    return imported.status();
  } else if (fuzzer == "keras_fuzzer") {
    model = LoadKerasModel(bytes, "regression.keras");
  } else {  // native_model_fuzzer: a 2-byte config length, config, weights.
    if (bytes.size() < 2) return absl::InvalidArgumentError("shorter than its header");
    const size_t config_size = std::min<size_t>(
        static_cast<uint8_t>(bytes[0]) | static_cast<uint8_t>(bytes[1]) << 8, bytes.size() - 2);
    model =
        LoadNativeModel(bytes.substr(2, config_size), bytes.substr(2 + config_size), "regression");
  }
  if (model.ok()) ExpectRuns(*model->stack);
  return model.status();
}

class FuzzRegressionTest : public ::testing::TestWithParam<Regression> {};

TEST_P(FuzzRegressionTest, IsRefusedCleanlyOrAcceptedWhenValid) {
  const Regression& r = GetParam();
  const absl::StatusOr<std::string> bytes =
      util::ReadFileToString(TestdataPath("fuzz_regressions/" + r.fuzzer + "/" + r.file));
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  const absl::Status status = Feed(r.fuzzer, *bytes);
  if (absl::StartsWith(r.file, "valid_")) {
    EXPECT_TRUE(status.ok()) << status;
  } else {
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  }
}

// Every folder of fuzz_regressions is a fuzzer fed above, and every fuzzer fed
// above has a folder holding a valid_ input (so its feed path is known to run
// its check) besides the refused ones.
TEST(FuzzRegressionFoldersTest, EachFedFuzzerHasItsFolderAndNoFolderIsIgnored) {
  const std::filesystem::path root = TestdataPath("fuzz_regressions");
  for (const char* fuzzer : kFedFuzzers) {
    ASSERT_TRUE(std::filesystem::is_directory(root / fuzzer)) << (root / fuzzer) << " is missing";
    bool has_valid = false;
    for (const auto& entry : std::filesystem::directory_iterator(root / fuzzer)) {
      has_valid |= absl::StartsWith(entry.path().filename().string(), "valid_");
    }
    EXPECT_TRUE(has_valid) << fuzzer << " has no valid_ input";
  }
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    if (!entry.is_directory()) continue;
    const std::string name = entry.path().filename().string();
    EXPECT_TRUE(std::find(std::begin(kFedFuzzers), std::end(kFedFuzzers), name) !=
                std::end(kFedFuzzers))
        << "fuzz_regressions/" << name << " is fed to nothing: add it to kFedFuzzers and Feed()";
  }
}

INSTANTIATE_TEST_SUITE_P(Inputs, FuzzRegressionTest, ::testing::ValuesIn(Regressions()),
                         [](const ::testing::TestParamInfo<Regression>& info) {
                           std::string name = info.param.fuzzer + "_" + info.param.file;
                           for (char& c : name) {
                             if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace rnnserve::model
