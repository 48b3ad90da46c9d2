// ModelRepository against repositories built in TempDir() from the checked-in
// fixtures, and the rnnserve-model tool pointed at such repositories.
#include "model/importers/model_repository.h"

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "glog/logging.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/model/test_util.h"
#include "util/file.h"
#include "util/npy.h"

namespace rnnserve::model {
namespace {

namespace fs = std::filesystem;
using ::rnnserve::model::testing::LoadSequences;
using ::rnnserve::model::testing::RunTool;
using ::rnnserve::model::testing::ScratchFolderTest;
using ::rnnserve::model::testing::TestdataPath;
using ::rnnserve::model::testing::ToolResult;
using ::testing::ContainsRegex;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

// A fresh repository folder per test, filled from fixture folders.
class ModelRepositoryTest : public ScratchFolderTest {
 protected:
  void MakeDir(const std::string& relative) { fs::create_directories(root_path() / relative); }

  void WriteFile(const std::string& relative, const std::string& contents) {
    ASSERT_TRUE(util::WriteStringToFile((root_path() / relative).string(), contents).ok());
  }

  ModelRepository LoadOrDie() const {
    absl::StatusOr<ModelRepository> repository = ModelRepository::Load(root());
    CHECK(repository.ok()) << repository.status();
    return *std::move(repository);
  }

};

// The stack reproduces the fixture's expected_1.npy (7 steps): OutputRowsNear.
void ExpectReproducesFixture(const LoadedModel& model, const std::string& fixture) {
  const std::vector<testing::ReferenceSequence> sequences = LoadSequences(TestdataPath(fixture));
  ASSERT_GE(sequences.size(), 2u) << fixture;
  const absl::StatusOr<RowMatrix> out = model.stack->RunSequence(sequences[1].View());
  ASSERT_TRUE(out.ok()) << out.status();
  const util::NpyArray& want = sequences[1].expected;
  ASSERT_EQ(out->size(), static_cast<int64_t>(want.floats.size())) << fixture;
  ASSERT_TRUE(
      testing::OutputRowsNear(out->data(), want.floats.data(), want.shape[0], want.shape[1]))
      << fixture;
}

TEST_F(ModelRepositoryTest, ServesTheNewestVersionWhenNoneIsAsked) {
  Add("lstm/1", "model/lstm_1layer");
  Add("lstm/2", "model/lstm_3layer");
  Add("lstm/10", "model/gru_1layer");  // 10 > 2: numbers, not text, are compared
  const ModelRepository repository = LoadOrDie();
  EXPECT_THAT(repository.problems(), IsEmpty());
  const absl::StatusOr<ModelVersion> found = repository.Find("lstm");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->name, "lstm");
  EXPECT_EQ(found->version, 10);
  EXPECT_EQ(found->model.info.cell, "gru");
  EXPECT_EQ(found->model.info.path, root() + "/lstm/10");
  EXPECT_THAT(repository.Versions("lstm"), ElementsAre(1, 2, 10));
}

TEST_F(ModelRepositoryTest, FindsAnExplicitVersion) {
  Add("lstm/1", "model/lstm_1layer");
  Add("lstm/2", "model/lstm_3layer");
  const absl::StatusOr<ModelVersion> found = LoadOrDie().Find("lstm", 1);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->version, 1);
  EXPECT_EQ(found->model.info.num_layers, 1);
  ExpectReproducesFixture(found->model, "model/lstm_1layer");
}

TEST_F(ModelRepositoryTest, UnknownNameIsNotFoundListingTheModels) {
  Add("lstm/1", "model/lstm_1layer");
  Add("charlm/3", "model/charlm");
  const absl::StatusOr<ModelVersion> found = LoadOrDie().Find("transformer");
  ASSERT_EQ(found.status().code(), absl::StatusCode::kNotFound) << found.status();
  EXPECT_THAT(found.status().message(), HasSubstr("\"transformer\" not found"));
  EXPECT_THAT(found.status().message(), HasSubstr("available models: charlm, lstm"));
}

TEST_F(ModelRepositoryTest, UnknownVersionIsNotFoundListingTheVersions) {
  Add("lstm/1", "model/lstm_1layer");
  Add("lstm/3", "model/lstm_3layer");
  const absl::StatusOr<ModelVersion> found = LoadOrDie().Find("lstm", 2);
  ASSERT_EQ(found.status().code(), absl::StatusCode::kNotFound) << found.status();
  EXPECT_THAT(found.status().message(), HasSubstr("\"lstm\" has no version 2"));
  EXPECT_THAT(found.status().message(), HasSubstr("available versions: 1, 3"));
}

TEST_F(ModelRepositoryTest, EmptyRepositorySaysSo) {
  const absl::StatusOr<ModelVersion> found = LoadOrDie().Find("lstm");
  ASSERT_EQ(found.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(found.status().message(), HasSubstr("available models: none"));
}

TEST_F(ModelRepositoryTest, BrokenVersionIsReportedWhileTheOthersLoad) {
  Add("lstm/1", "model/lstm_1layer");
  Add("lstm/2", "model_bad/nan_weight");
  Add("gru/1", "model/gru_1layer");
  const ModelRepository repository = LoadOrDie();
  ASSERT_EQ(repository.problems().size(), 1u);
  const LoadProblem& problem = repository.problems()[0];
  EXPECT_EQ(problem.name, "lstm");
  EXPECT_EQ(problem.version, "2");
  EXPECT_EQ(problem.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(problem.status.message(), HasSubstr("rnn.weight_hh_l0"));

  EXPECT_THAT(repository.List(), ElementsAre(Field(&ModelVersion::name, "gru"),
                                             Field(&ModelVersion::name, "lstm")));
  const absl::StatusOr<ModelVersion> newest = repository.Find("lstm");
  ASSERT_TRUE(newest.ok()) << newest.status();
  EXPECT_EQ(newest->version, 1);  // the newest one that loads
  const absl::StatusOr<ModelVersion> broken = repository.Find("lstm", 2);
  ASSERT_EQ(broken.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(broken.status().message(), HasSubstr("lstm/2 failed to load"));
  EXPECT_THAT(broken.status().message(), HasSubstr("rnn.weight_hh_l0"));
}

TEST_F(ModelRepositoryTest, HoldsEveryVersionFolderFoundLoadedSkippedOrBroken) {
  Add("lstm/1", "model/lstm_1layer");
  Add("lstm/2", "model_bad/nan_weight");
  Add("gru/3", "model/gru_1layer");
  const absl::StatusOr<ModelRepository> repository = ModelRepository::Load(
      root(), [](const std::string& name, int /*version*/) { return name == "gru"; });
  ASSERT_TRUE(repository.ok()) << repository.status();
  EXPECT_THAT(repository->List(), ElementsAre(Field(&ModelVersion::name, "lstm")));
  EXPECT_TRUE(repository->Holds("lstm", 1));  // loaded
  EXPECT_TRUE(repository->Holds("lstm", 2));  // broken
  EXPECT_TRUE(repository->Holds("gru", 3));   // skipped
  EXPECT_FALSE(repository->Holds("gru", 1));  // never there
  EXPECT_FALSE(repository->Holds("chars", 1));
}

TEST_F(ModelRepositoryTest, NewestVersionsLoadsNewestFirstUntilThatManyServe) {
  Add("lstm/1", "model/lstm_1layer");
  Add("lstm/2", "model/lstm_1layer");
  Add("lstm/10", "model_bad/nan_weight");
  Add("gru/1", "model/gru_1layer");
  // 10 fails, so 2 takes its place; 1 is neither loaded nor reported.
  const absl::StatusOr<ModelRepository> newest =
      ModelRepository::Load(root(), nullptr, {}, /*newest_versions=*/1);
  ASSERT_TRUE(newest.ok()) << newest.status();
  EXPECT_THAT(newest->Versions("lstm"), ElementsAre(2));
  EXPECT_THAT(newest->Versions("gru"), ElementsAre(1));
  ASSERT_EQ(newest->problems().size(), 1u);
  EXPECT_EQ(newest->problems()[0].version, "10");
  EXPECT_TRUE(newest->Holds("lstm", 1));
  // A version the caller has counts: nothing older loads.
  const absl::StatusOr<ModelRepository> skipping = ModelRepository::Load(
      root(), [](const std::string& name, int version) { return name == "lstm" && version == 2; },
      {}, 1);
  ASSERT_TRUE(skipping.ok()) << skipping.status();
  EXPECT_THAT(skipping->Versions("lstm"), IsEmpty());
  // Two of them: 10 fails, 2 and 1 load.
  EXPECT_THAT(ModelRepository::Load(root(), nullptr, {}, 2)->Versions("lstm"), ElementsAre(1, 2));
}

TEST_F(ModelRepositoryTest, ModelWithNoLoadableVersionIsAbsent) {
  Add("lstm/1", "model/lstm_1layer");
  Add("broken/1", "model_bad/nan_weight");
  Add("broken/2", "model_bad/unknown_cell");
  const ModelRepository repository = LoadOrDie();
  EXPECT_THAT(repository.List(), ElementsAre(Field(&ModelVersion::name, "lstm")));
  EXPECT_THAT(repository.problems(),
              ElementsAre(Field(&LoadProblem::version, "1"), Field(&LoadProblem::version, "2")));
  const absl::StatusOr<ModelVersion> found = repository.Find("broken");
  ASSERT_EQ(found.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(found.status().message(), HasSubstr("broken/1 failed to load"));
  EXPECT_THAT(found.status().message(), HasSubstr("available models: lstm"));
}

TEST_F(ModelRepositoryTest, BadVersionFolderNamesAreReported) {
  Add("lstm/1", "model/lstm_1layer");
  for (const char* bad : {"0", "abc", "-1", "+2", "1.5", "99999999999"}) {
    Add(std::string("lstm/") + bad, "model/lstm_1layer");
  }
  const ModelRepository repository = LoadOrDie();
  EXPECT_THAT(repository.Versions("lstm"), ElementsAre(1));
  ASSERT_EQ(repository.problems().size(), 6u);
  for (const LoadProblem& problem : repository.problems()) {
    EXPECT_EQ(problem.name, "lstm");
    EXPECT_EQ(problem.status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(problem.status.message(),
                HasSubstr("\"" + problem.version + "\" is not a positive integer"));
  }
  EXPECT_THAT(repository.problems(),
              UnorderedElementsAre(Field(&LoadProblem::version, "0"),
                                   Field(&LoadProblem::version, "abc"),
                                   Field(&LoadProblem::version, "-1"),
                                   Field(&LoadProblem::version, "+2"),
                                   Field(&LoadProblem::version, "1.5"),
                                   Field(&LoadProblem::version, "99999999999")));
}

TEST_F(ModelRepositoryTest, LeadingZerosNameTheSameVersionOnce) {
  Add("lstm/007", "model/lstm_1layer");
  Add("lstm/7", "model/lstm_3layer");
  const ModelRepository repository = LoadOrDie();
  EXPECT_THAT(repository.Versions("lstm"), ElementsAre(7));
  ASSERT_EQ(repository.problems().size(), 1u);
  EXPECT_EQ(repository.problems()[0].version, "7");
  EXPECT_EQ(repository.problems()[0].status.code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(ModelRepositoryTest, HiddenEntriesAndPlainFilesAreIgnored) {
  Add("lstm/1", "model/lstm_1layer");
  Add(".staging/1", "model_bad/nan_weight");
  Add("lstm/.2.partial", "model_bad/nan_weight");
  MakeDir(".git/objects");
  WriteFile("README.md", "# models\n");
  WriteFile("lstm/NOTES.txt", "version 1 is the baseline\n");
  const ModelRepository repository = LoadOrDie();
  EXPECT_THAT(repository.problems(), IsEmpty());
  EXPECT_THAT(repository.List(), ElementsAre(Field(&ModelVersion::name, "lstm")));
}

TEST_F(ModelRepositoryTest, BadNamesAndEmptyModelFoldersAreReported) {
  Add("lstm/1", "model/lstm_1layer");
  Add("has space/1", "model/lstm_1layer");
  MakeDir("empty");
  Add("unversioned", "model/gru_1layer");  // the model files one level too high
  const ModelRepository repository = LoadOrDie();
  EXPECT_THAT(repository.List(), ElementsAre(Field(&ModelVersion::name, "lstm")));
  ASSERT_EQ(repository.problems().size(), 3u);
  const LoadProblem& space = repository.problems()[1];
  EXPECT_EQ(space.name, "has space");
  EXPECT_EQ(space.version, "");
  EXPECT_THAT(space.status.message(), HasSubstr("characters outside [A-Za-z0-9_.-]"));
  for (const LoadProblem& problem : {repository.problems()[0], repository.problems()[2]}) {
    EXPECT_EQ(problem.status.code(), absl::StatusCode::kNotFound) << problem.name;
    EXPECT_THAT(problem.status.message(), HasSubstr("has no version folders"));
  }
}

TEST_F(ModelRepositoryTest, MissingRootIsNotFound) {
  const absl::StatusOr<ModelRepository> missing = ModelRepository::Load(root() + "/nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("/nope does not exist"));
  WriteFile("file", "");
  const absl::StatusOr<ModelRepository> file = ModelRepository::Load(root() + "/file");
  EXPECT_EQ(file.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(file.status().message(), HasSubstr("/file is not a directory"));
}

TEST_F(ModelRepositoryTest, ListIsSortedByNameThenVersion) {
  Add("b/10", "model/rnn_tanh");
  Add("b/9", "model/rnn_tanh");
  Add("a/2", "model/gru_1layer");
  Add("a/1", "model/lstm_1layer");
  std::vector<std::pair<std::string, int>> listed;
  for (const ModelVersion& v : LoadOrDie().List()) listed.emplace_back(v.name, v.version);
  EXPECT_THAT(listed, ElementsAre(std::pair{std::string("a"), 1}, std::pair{std::string("a"), 2},
                                  std::pair{std::string("b"), 9}, std::pair{std::string("b"), 10}));
}

TEST_F(ModelRepositoryTest, LoadModelFolderLoadsOneModel) {
  Add("lstm/1", "model/lstm_1layer");
  Add("lstm/2", "model/lstm_3layer");
  Add("other/1", "model/gru_1layer");
  const absl::StatusOr<ModelRepository> repository =
      ModelRepository::LoadModelFolder(root() + "/lstm/");
  ASSERT_TRUE(repository.ok()) << repository.status();
  EXPECT_THAT(repository->List(), ElementsAre(Field(&ModelVersion::version, 1),
                                              Field(&ModelVersion::version, 2)));
  EXPECT_EQ(repository->Find("lstm")->version, 2);
}

// Native PyTorch naming, native Keras naming and ONNX all load through
// LoadModel, so a repository serves any mix of them.
TEST_F(ModelRepositoryTest, ModelsFromEverySourceLoad) {
  Add("pytorch/1", "model/lstm_1layer");
  Add("keras/1", "model/lstm_3layer_keras");
  const ModelRepository repository = LoadOrDie();
  EXPECT_THAT(repository.problems(), IsEmpty());
  const absl::StatusOr<ModelVersion> pytorch = repository.Find("pytorch");
  const absl::StatusOr<ModelVersion> keras = repository.Find("keras");
  ASSERT_TRUE(pytorch.ok() && keras.ok());
  EXPECT_EQ(pytorch->model.info.format, "native (pytorch naming)");
  EXPECT_EQ(keras->model.info.format, "native (keras naming)");
  ExpectReproducesFixture(pytorch->model, "model/lstm_1layer");
  ExpectReproducesFixture(keras->model, "model/lstm_3layer_keras");
}

TEST_F(ModelRepositoryTest, OnnxModelsLoad) {
  for (const std::string fixture : {"torch_lstm_1layer", "op_lstm_peepholes"}) {
    Add("onnx_" + fixture + "/1", "onnx/" + fixture);
  }
  const ModelRepository repository = LoadOrDie();
  for (const LoadProblem& problem : repository.problems()) {
    ADD_FAILURE() << problem.name << " version " << problem.version << ": " << problem.status;
  }
  for (const std::string fixture : {"torch_lstm_1layer", "op_lstm_peepholes"}) {
    const absl::StatusOr<ModelVersion> found = repository.Find("onnx_" + fixture);
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_THAT(found->model.info.format, StartsWith("onnx"));
    EXPECT_EQ(found->model.info.cell, "lstm");
    ExpectReproducesFixture(found->model, "onnx/" + fixture);
  }
}

TEST_F(ModelRepositoryTest, SameFilesGiveTheSameFingerprint) {
  Add("a/1", "model/lstm_1layer");
  Add("b/4", "model/lstm_1layer");
  const ModelRepository first = LoadOrDie();
  const ModelRepository second = LoadOrDie();
  const std::string fingerprint = first.Find("a")->model.info.fingerprint;
  EXPECT_THAT(fingerprint, ContainsRegex("^sha256:[0-9a-f]{64}$"));
  EXPECT_EQ(second.Find("a")->model.info.fingerprint, fingerprint);
  EXPECT_EQ(first.Find("b")->model.info.fingerprint, fingerprint);  // path plays no part
}

TEST_F(ModelRepositoryTest, ChangedWeightByteChangesTheFingerprint) {
  Add("lstm/1", "model/lstm_1layer");
  const std::string changed = Add("lstm/2", "model/lstm_1layer") + "/model.safetensors";
  absl::StatusOr<std::string> bytes = util::ReadFileToString(changed);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  (*bytes)[bytes->size() - 4] ^= 1;  // low mantissa bit of the last float32
  ASSERT_TRUE(util::WriteStringToFile(changed, *bytes).ok());
  const ModelRepository repository = LoadOrDie();
  ASSERT_THAT(repository.problems(), IsEmpty());
  EXPECT_NE(repository.Find("lstm", 1)->model.info.fingerprint,
            repository.Find("lstm", 2)->model.info.fingerprint);
}

TEST(ParseModelVersionTest, AcceptsPositiveDecimalIntegersOnly) {
  EXPECT_EQ(*ParseModelVersion("1"), 1);
  EXPECT_EQ(*ParseModelVersion("2147483647"), 2147483647);
  for (const char* bad : {"", "0", "00", "-1", "+1", " 1", "1a", "0x10", "2147483648"}) {
    EXPECT_EQ(ParseModelVersion(bad).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}


std::string FingerprintOf(const std::string& fixture) {
  const absl::StatusOr<LoadedModel> model = LoadModel(TestdataPath(fixture));
  CHECK(model.ok()) << model.status();
  return model->info.fingerprint;
}

using ModelToolTest = ModelRepositoryTest;

TEST_F(ModelToolTest, InspectVersionFolderPrintsTheFingerprint) {
  const ToolResult r = RunTool("inspect " + TestdataPath("model/lstm_1layer"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("fingerprint: " + FingerprintOf("model/lstm_1layer") + "\n"));
}

TEST_F(ModelToolTest, InspectModelFolderShowsTheNewestVersion) {
  Add("lm/1", "model/lstm_1layer");
  Add("lm/2", "model/charlm");
  Add("lm/3", "model_bad/nan_weight");
  Add("lm/old", "model/lstm_1layer");
  const ToolResult r = RunTool("inspect " + root() + "/lm");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("name:        lm\n"));
  EXPECT_THAT(r.output, HasSubstr("versions:    1, 2 (showing the newest, 2)"));
  EXPECT_THAT(r.output, HasSubstr("model:       " + root() + "/lm/2\n"));
  EXPECT_THAT(r.output, HasSubstr("2 x lstm, hidden 8"));
  EXPECT_THAT(r.output, HasSubstr("fingerprint: " + FingerprintOf("model/charlm")));
  EXPECT_THAT(r.output, HasSubstr("problems:    2\n  lm version 3: INVALID_ARGUMENT"));
  EXPECT_THAT(r.output, HasSubstr("  lm version old: INVALID_ARGUMENT: version folder \"old\""));
}

TEST_F(ModelToolTest, InspectModelFolderWithNothingLoadableFails) {
  Add("lm/1", "model_bad/nan_weight");
  const ToolResult r = RunTool("inspect " + root() + "/lm");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("lm version 1: INVALID_ARGUMENT"));
  EXPECT_THAT(r.output, HasSubstr("no version of " + root() + "/lm loads"));
}

TEST_F(ModelToolTest, InspectRepositoryPrintsATableAndTheProblems) {
  Add("charlm/1", "model/charlm");
  Add("gru/1", "model/gru_1layer");
  Add("gru/2", "model/gru_2layer");
  Add("broken/1", "model_bad/nan_weight");
  Add("gru/x", "model/gru_1layer");
  WriteFile("README.md", "");
  const ToolResult r = RunTool("inspect " + root());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, ContainsRegex("NAME +VERSION +FORMAT +CELL +LAYERSxHIDDEN +INPUT +OUTPUT "
                                      "+PARAMETERS +FINGERPRINT\n"));
  const std::string charlm = FingerprintOf("model/charlm").substr(7, 12);
  EXPECT_THAT(r.output, ContainsRegex("\ncharlm +1 +native \\(pytorch naming\\) +lstm +2x8 "
                                      "+vocab 11 +11 +[0-9]+ +" + charlm + "\n"));
  EXPECT_THAT(r.output, ContainsRegex("\ngru +1 +native \\(pytorch naming\\) +gru +1x[0-9]+ "
                                      "+float\\[4\\] "));
  EXPECT_THAT(r.output, ContainsRegex("\ngru +2 "));
  EXPECT_THAT(r.output, Not(HasSubstr("README")));
  EXPECT_THAT(r.output, HasSubstr("problems:    2\n"));
  EXPECT_THAT(r.output, HasSubstr("  broken version 1: INVALID_ARGUMENT"));
  EXPECT_THAT(r.output, HasSubstr("rnn.weight_hh_l0"));
  EXPECT_THAT(r.output, HasSubstr("  gru version x: INVALID_ARGUMENT: version folder \"x\""));
}

TEST_F(ModelToolTest, InspectRepositoryWithNothingLoadableFails) {
  Add("broken/1", "model_bad/nan_weight");
  const ToolResult r = RunTool("inspect " + root());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("broken version 1: INVALID_ARGUMENT"));
  EXPECT_THAT(r.output, HasSubstr("no model in " + root() + " loads"));
}

TEST_F(ModelToolTest, RunAcceptsAModelFolder) {
  Add("lstm/1", "model/lstm_1layer");
  Add("lstm/2", "model/lstm_3layer");
  const std::string fixture = TestdataPath("model/lstm_3layer");
  const std::string out = root() + "/out.npy";
  const ToolResult r = RunTool("run --model " + root() + "/lstm --input " + fixture +
                               "/input_1.npy --output " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("lstm version 2"));
  const absl::StatusOr<util::NpyArray> got = util::ReadNpy(out);
  const absl::StatusOr<util::NpyArray> want = util::ReadNpy(fixture + "/expected_1.npy");
  ASSERT_TRUE(got.ok() && want.ok());
  ASSERT_EQ(got->shape, want->shape);
  EXPECT_TRUE(testing::OutputRowsNear(got->floats.data(), want->floats.data(), want->shape[0],
                                      want->shape[1]));
}

TEST_F(ModelToolTest, RunRefusesARepositoryRoot) {
  Add("lstm/1", "model/lstm_1layer");
  const ToolResult r = RunTool("run --model " + root() + " --input " +
                               TestdataPath("model/lstm_1layer/input_1.npy") + " --output " +
                               root() + "/out.npy");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(
      r.output,
      HasSubstr(root() + " is not a model: want a model.onnx, config.json, model.safetensors, "
                         "model.keras, model.h5 or model.json file, a version folder "
                         "holding one, a Keras file of any name (*.keras, *.h5), or a "
                         "model folder of versions"));
}

}  // namespace
}  // namespace rnnserve::model
