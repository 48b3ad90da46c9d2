// The Keras importer beyond the parity fixtures (fixture_parity_test.cc runs
// tests/testdata/keras in every stepping mode): every file in
// tests/testdata/keras_bad (make_keras_fixtures.py) is refused naming the
// file, the layer or HDF5 path, and the problem; Keras files load from a
// version folder and by their own path; the fingerprint covers the bytes.
#include "model/importers/keras_model.h"

#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/importers/keras_config.h"
#include "model/importers/model_loader.h"
#include "model/importers/model_repository.h"
#include "tests/model/test_util.h"
#include "util/file.h"

namespace rnnserve::model {
namespace {

namespace fs = std::filesystem;
using ::rnnserve::model::testing::ScratchFolderTest;
using ::rnnserve::model::testing::TestdataPath;
using ::testing::AllOf;
using ::testing::HasSubstr;

struct BadCase {
  std::string folder;
  std::string file;
  std::vector<std::string> message;  // substrings the error must hold
};

std::string BadPath(const BadCase& c) {
  return TestdataPath("keras_bad/" + c.folder + "/" + c.file);
}

class KerasBadFileTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(KerasBadFileTest, IsRefusedNamingTheProblem) {
  const BadCase& c = GetParam();
  const absl::StatusOr<LoadedModel> model = LoadModel(BadPath(c));
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument) << model.status();
  EXPECT_THAT(std::string(model.status().message()), HasSubstr(BadPath(c)));
  for (const std::string& part : c.message) {
    EXPECT_THAT(std::string(model.status().message()), HasSubstr(part));
  }
  // The version folder loads the same way, with the same answer.
  const absl::StatusOr<LoadedModel> folder = LoadModel(TestdataPath("keras_bad/" + c.folder));
  EXPECT_EQ(folder.status(), model.status());
}

INSTANTIATE_TEST_SUITE_P(
    Keras, KerasBadFileTest,
    ::testing::Values(
        BadCase{"masking", "model.h5", {"layer masking (Masking)", "Masking is not served"}},
        BadCase{"merge_mode_sum",
                "model.h5",
                {"layer bidirectional (Bidirectional)", "merge_mode", "\"sum\""}},
        BadCase{"dense_elu", "model.h5", {"layer dense (Dense)", "option activation", "elu"}},
        BadCase{
            "lstm_gelu", "model.h5", {"layer lstm (LSTM)", "option recurrent_activation", "gelu"}},
        BadCase{"return_state", "model.h5", {"layer lstm (LSTM)", "option return_state"}},
        BadCase{"missing_units", "model.h5", {"layer lstm (LSTM)", "option units is missing"}},
        BadCase{"stacked_last_step",
                "model.h5",
                {"layer lstm (LSTM)", "return_sequences is false but lstm_1 follows it"}},
        BadCase{"mixed_go_backwards", "model.h5", {"layer lstm_1 (LSTM)", "go_backwards"}},
        BadCase{"mask_zero", "model.h5", {"layer embedding (Embedding)", "option mask_zero"}},
        BadCase{"dense_first", "model.h5", {"layer dense_0 (Dense)", "only as the last layer"}},
        BadCase{"stacked_dense",
                "model.h5",
                {"layer dense_hidden (Dense)", "served only as the last layer",
                 "the output head is one Dense layer", "dense (Dense) follows it"}},
        BadCase{"wrong_units",
                "model.h5",
                {"layer lstm (LSTM)", "/model_weights/lstm/lstm/lstm_cell/kernel:0 is [3, 16]",
                 "want [3, 20]"}},
        BadCase{"unbuilt", "model.h5", {"layer lstm (LSTM)", "saved before it was built"}},
        BadCase{"nan_weight",
                "model.h5",
                {"/model_weights/lstm/lstm/lstm_cell/recurrent_kernel:0", "NaN or infinite"}},
        BadCase{"weight_renamed",
                "model.h5",
                {"layer lstm (LSTM)", "weight 0 is named lstm/lstm_cell/recurrent_kernel:0",
                 "want kernel"}},
        BadCase{"weights_only", "model.h5", {"weights-only", "model.save()"}},
        BadCase{"keras3_weights_only", "model.h5", {"Keras 3 weights file", ".keras"}},
        BadCase{"archive_without_weights",
                "model.keras",
                {"no model.weights.h5", "metadata.json, config.json"}},
        BadCase{"archive_two_inputs", "model.keras", {"has 2 inputs"}},
        BadCase{"archive_wrong_kernel_shape", "model.keras", {"is [2, 16]"}},
        BadCase{"truncated", "model.keras", {"not a readable zip archive"}},
        BadCase{"truncated_h5", "model.h5", {}},
        BadCase{"not_keras", "model.keras", {"neither an HDF5 file", "nor a zip archive"}},
        BadCase{"tfjs_quantized", "model.json", {"weightsManifest", "is quantized"}},
        BadCase{"tfjs_missing_shard",
                "model.json",
                {"names shard group1-shard6of6.bin that cannot be read"}},
        BadCase{"tfjs_shard_too_long",
                "model.json",
                {"group lists 552 bytes of weights but its shards hold 560"}},
        BadCase{"tfjs_shard_outside",
                "model.json",
                {"names shard \"../group1-shard1of1.bin\"", "a file name in model.json's folder"}},
        BadCase{"tfjs_unclaimed_weight",
                "model.json",
                {"lists weight extra/kernel that no served layer of the config has"}},
        BadCase{"tfjs_graph_model", "model.json", {"\"graph-model\"", "layers models"}}),
    [](const auto& info) { return info.param.folder; });

class KerasModelTest : public ScratchFolderTest {};

TEST_F(KerasModelTest, LoadsFromAVersionFolderAndByItsOwnPath) {
  const std::string folder = TestdataPath("keras/k341_keras_lstm_stack");
  const absl::StatusOr<LoadedModel> by_folder = LoadModel(folder);
  ASSERT_TRUE(by_folder.ok()) << by_folder.status();
  // A user's file keeps its own name.
  const std::string renamed = root() + "/my_lstm_model.keras";
  fs::copy_file(folder + "/model.keras", renamed);
  const absl::StatusOr<LoadedModel> by_file = LoadModel(renamed);
  ASSERT_TRUE(by_file.ok()) << by_file.status();
  EXPECT_EQ(by_file->info.path, renamed);
  EXPECT_THAT(by_file->info.format,
              AllOf(HasSubstr("keras 3.4.1 .keras"), HasSubstr("Sequential LSTM > LSTM > Dense")));
  EXPECT_EQ(by_file->info.cell, "lstm");
  EXPECT_EQ(by_file->info.num_layers, 2);
  EXPECT_EQ(by_file->info.hidden_size, 6);
  // kernel, recurrent kernel, bias of both layers and the head.
  EXPECT_EQ(by_file->info.parameter_count, 4 * 24 + 6 * 24 + 24 + 6 * 20 + 5 * 20 + 20 + 5 * 1 + 1);
  EXPECT_EQ(by_folder->stack->sequence_output(), SequenceOutput::kFinalState);
}

// The "done when": a user copies model.keras or model.h5 into
// MODELS/<name>/<version>/ and the repository serves it.
TEST_F(KerasModelTest, ARepositoryServesKerasFilesInVersionFolders) {
  Add("forecast/1", "keras/k240_gru_reset_after_x2");
  Add("forecast/2", "keras/k341_keras_lstm_stack");
  Add("words/3", "keras/k350_keras_functional_tokens");
  const absl::StatusOr<ModelRepository> repository = ModelRepository::Load(root());
  ASSERT_TRUE(repository.ok()) << repository.status();
  EXPECT_TRUE(repository->problems().empty());
  EXPECT_EQ(repository->List().size(), 3u);
  const absl::StatusOr<ModelVersion> newest = repository->Find("forecast", std::nullopt);
  ASSERT_TRUE(newest.ok()) << newest.status();
  EXPECT_EQ(newest->version, 2);
  EXPECT_THAT(newest->model.info.format, HasSubstr(".keras"));
  const absl::StatusOr<ModelVersion> words = repository->Find("words", 3);
  ASSERT_TRUE(words.ok()) << words.status();
  EXPECT_EQ(words->model.stack->input_kind(), InputKind::kTokens);
}

// Users who converted a Keras model by hand (the workflow before issue 18)
// may keep the original beside the native files: those still serve.
TEST_F(KerasModelTest, NativeFilesBesideAKerasFileStillServe) {
  const std::string version = Add("lstm/1", "model/lstm_1layer");
  fs::copy_file(TestdataPath("keras_bad/masking/model.h5"), version + "/model.h5");
  const absl::StatusOr<LoadedModel> model = LoadModel(version);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_THAT(model->info.format, HasSubstr("native"));
}

TEST_F(KerasModelTest, AnHdf5FileNamedKerasLoadsAsWhatItIs) {
  const absl::StatusOr<LoadedModel> model =
      LoadModel(TestdataPath("keras/k2100_bilstm_hdf5_named_keras/model.keras"));
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_THAT(model->info.format, HasSubstr("keras 2.10.0 legacy .h5"));
  EXPECT_TRUE(model->info.bidirectional);
}

// The other way round: the magic bytes decide, never the extension.
TEST_F(KerasModelTest, AKerasArchiveNamedH5LoadsAsWhatItIs) {
  const std::string renamed = root() + "/model.h5";
  fs::copy_file(TestdataPath("keras/k341_keras_lstm_stack/model.keras"), renamed);
  const absl::StatusOr<LoadedModel> model = LoadModel(renamed);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_THAT(model->info.format, HasSubstr("keras 3.4.1 .keras"));
}

TEST_F(KerasModelTest, FingerprintCoversTheFileBytes) {
  const std::string source = TestdataPath("keras/k240_gru_reset_after_x2/model.h5");
  absl::StatusOr<std::string> bytes = util::ReadFileToString(source);
  ASSERT_TRUE(bytes.ok());
  const absl::StatusOr<LoadedModel> original = LoadKerasModel(*bytes, "model.h5");
  ASSERT_TRUE(original.ok()) << original.status();
  // One changed byte in the training_config attribute: the weights and the
  // architecture are the same, the file is not.
  const size_t at = bytes->find("optimizer_config");
  ASSERT_NE(at, std::string::npos);
  (*bytes)[at] = 'O';
  const absl::StatusOr<LoadedModel> changed = LoadKerasModel(*bytes, "model.h5");
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_NE(original->info.fingerprint, changed->info.fingerprint);
  const absl::StatusOr<LoadedModel> again = LoadModel(source);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->info.fingerprint, original->info.fingerprint);
}

// keras_fuzzer ran out of memory on files whose dataset shapes claim more
// than their storage: a read must not allocate for data the file lacks.
TEST_F(KerasModelTest, ADatasetShapedBeyondItsStorageIsRefusedBeforeAllocating) {
  absl::StatusOr<std::string> bytes =
      util::ReadFileToString(TestdataPath("keras/k240_gru_reset_after_x2/model.h5"));
  ASSERT_TRUE(bytes.ok());
  // The [2, 15] dataspaces (dims, then max dims) of the first GRU's kernel
  // and bias, and of their optimizer copies: [2, 15000] each.
  auto dims = [](uint64_t rows, uint64_t cols) {
    std::string out;
    for (uint64_t v : {rows, cols, rows, cols}) {
      for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    }
    return out;
  };
  const std::string from = dims(2, 15), to = dims(2, 15000);
  int replaced = 0;
  for (size_t at = bytes->find(from); at != std::string::npos; at = bytes->find(from, at + 1)) {
    bytes->replace(at, from.size(), to);
    ++replaced;
  }
  ASSERT_EQ(replaced, 4);
  const absl::StatusOr<LoadedModel> model = LoadKerasModel(*bytes, "model.h5");
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(std::string(model.status().message()),
              AllOf(HasSubstr("model.h5: /model_weights/gru/gru/gru_cell/"),
                    HasSubstr("has 120 bytes of storage for 120000 bytes of data")));
}

TEST_F(KerasModelTest, EveryPrefixOfAFileIsRefusedWithoutCrashing) {
  for (const char* fixture :
       {"keras/k224_bilstm_tokens/model.h5", "keras/k305_keras_bigru/model.keras"}) {
    const absl::StatusOr<std::string> bytes = util::ReadFileToString(TestdataPath(fixture));
    ASSERT_TRUE(bytes.ok());
    for (size_t size = 0; size < bytes->size(); size += 997) {
      const absl::StatusOr<LoadedModel> model =
          LoadKerasModel(absl::string_view(*bytes).substr(0, size), fixture);
      EXPECT_FALSE(model.ok()) << fixture << " cut at " << size;
    }
  }
}

TEST(KerasSnakeCaseTest, NamesLikeKeras3) {
  EXPECT_EQ(KerasSnakeCase("SimpleRNN"), "simple_rnn");
  EXPECT_EQ(KerasSnakeCase("LSTM"), "lstm");
  EXPECT_EQ(KerasSnakeCase("Bidirectional"), "bidirectional");
  EXPECT_EQ(KerasSnakeCase("SpatialDropout1D"), "spatial_dropout1d");
  EXPECT_EQ(KerasSnakeCase("InputLayer"), "input_layer");
}

}  // namespace
}  // namespace rnnserve::model
