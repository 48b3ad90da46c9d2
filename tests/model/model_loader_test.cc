// Loading refuses every broken model with a message that names the problem;
// the broken copies of lstm_1layer live in tests/testdata/model_bad.
#include "model/importers/model_loader.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/model/test_util.h"
#include "util/file.h"

namespace rnnserve::model {
namespace {

using ::rnnserve::model::testing::TestdataPath;
using ::testing::HasSubstr;

struct BadModelCase {
  std::string folder;
  absl::StatusCode code;
  std::string message_part;
};

class BadModelTest : public ::testing::TestWithParam<BadModelCase> {};

TEST_P(BadModelTest, IsRefusedWithAClearMessage) {
  const BadModelCase& c = GetParam();
  const absl::StatusOr<LoadedModel> model = LoadModel(TestdataPath("model_bad/" + c.folder));
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), c.code) << model.status();
  EXPECT_THAT(model.status().message(), HasSubstr(c.message_part));
}

INSTANTIATE_TEST_SUITE_P(
    ModelBad, BadModelTest,
    ::testing::Values(
        BadModelCase{"truncated_safetensors", absl::StatusCode::kInvalidArgument, "past the end"},
        BadModelCase{"header_len_past_eof", absl::StatusCode::kInvalidArgument, "header length"},
        BadModelCase{"header_len_huge", absl::StatusCode::kInvalidArgument, "header length"},
        BadModelCase{"unknown_dtype", absl::StatusCode::kInvalidArgument, "I9"},
        BadModelCase{"wrong_shape", absl::StatusCode::kInvalidArgument,
                     "rnn.weight_ih_l0 is [20, 5], want [20, 4]"},
        BadModelCase{"missing_tensor", absl::StatusCode::kInvalidArgument,
                     "no tensor rnn.bias_hh_l0"},
        BadModelCase{"extra_tensor", absl::StatusCode::kInvalidArgument,
                     "does not use: rnn.weight_ih_l1"},
        BadModelCase{"nan_weight", absl::StatusCode::kInvalidArgument, "rnn.weight_hh_l0"},
        BadModelCase{"inf_weight", absl::StatusCode::kInvalidArgument, "rnn.bias_ih_l0"},
        BadModelCase{"config_not_json", absl::StatusCode::kInvalidArgument, "not valid JSON"},
        BadModelCase{"unknown_cell", absl::StatusCode::kInvalidArgument, "transformer"},
        BadModelCase{"offsets_overlap", absl::StatusCode::kInvalidArgument, "overlap"},
        BadModelCase{"offsets_out_of_range", absl::StatusCode::kInvalidArgument,
                     "rnn.weight_ih_l0"},
        BadModelCase{"offsets_size_mismatch", absl::StatusCode::kInvalidArgument,
                     "rnn.bias_ih_l0"},
        BadModelCase{"does_not_exist", absl::StatusCode::kNotFound, "config.json"}),
    [](const auto& info) { return info.param.folder; });

TEST(ModelLoaderTest, MissingWeightsFileIsNotFound) {
  // A model folder with a config but no model.safetensors: use the testdata
  // root's sibling layout by pointing at a folder that has only config.json.
  const absl::StatusOr<LoadedModel> model = LoadModel(TestdataPath("model_bad_config_only"));
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(model.status().message(), HasSubstr("model.safetensors"));
}

TEST(ModelLoaderTest, ReportsArchitectureAndParameterCount) {
  const absl::StatusOr<LoadedModel> model = LoadModel(TestdataPath("model/lstm_proj"));
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->info.cell, "lstm");
  EXPECT_EQ(model->info.num_layers, 2);
  EXPECT_EQ(model->info.proj_size, 3);
  // PyTorch: per layer 4H*I + 4H*P + 2*4H + P*H, with H=6, P=3, I=4 then 3.
  EXPECT_EQ(model->info.parameter_count, (96 + 72 + 48 + 18) + (72 + 72 + 48 + 18));
  EXPECT_EQ(model->stack->state_size(), 2 * (3 + 6));
}

TEST(ModelLoaderTest, TransformsCountInTheFingerprint) {
  // The same weights with another output transform answer differently, so a
  // session exported from one must not be taken for the other's.
  const std::string dir = TestdataPath("transform/native_gru_scalar");
  const absl::StatusOr<std::string> config = util::ReadFileToString(dir + "/config.json");
  const absl::StatusOr<std::string> weights = util::ReadFileToString(dir + "/model.safetensors");
  ASSERT_TRUE(config.ok() && weights.ok());
  std::string moved = *config;  // The output offset (the last of the two) becomes 0.
  const size_t offset = moved.rfind("43.70000076293945");
  ASSERT_GT(offset, moved.find("output_transform"));
  // Spliced rather than replace()d: GCC 12 warns (-Wrestrict) on replace at an
  // offset it cannot bound.
  moved = absl::StrCat(moved.substr(0, offset), "0", moved.substr(offset + 17));
  const absl::StatusOr<LoadedModel> a = LoadNativeModel(*config, *weights, dir);
  const absl::StatusOr<LoadedModel> b = LoadNativeModel(moved, *weights, dir);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_THAT(b->stack->output_transform()->offset(), ::testing::ElementsAre(0.0f));
  EXPECT_NE(a->info.fingerprint, b->info.fingerprint);
}

}  // namespace
}  // namespace rnnserve::model
