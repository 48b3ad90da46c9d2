// config.json parsing: defaults, aliases and every refusal names the field.
#include "model/importers/config.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rnnserve::model {
namespace {

using ::testing::HasSubstr;

TEST(ConfigTest, AppliesPytorchDefaults) {
  const absl::StatusOr<ModelConfig> config =
      ParseModelConfig(R"({"cell": "gru", "input_size": 3, "hidden_size": 4})");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->num_layers, 1);
  EXPECT_TRUE(config->bias);
  EXPECT_EQ(config->naming, TensorNaming::kPytorch);
  EXPECT_EQ(config->gru_reset, GruReset::kAfterProduct);
  EXPECT_EQ(config->gru_update, GruUpdate::kPytorch);
  EXPECT_EQ(config->gate_activation, Activation::Sigmoid());
  EXPECT_EQ(config->activation, Activation::Tanh());
}

TEST(ConfigTest, EmbeddingSetsTheInputSize) {
  const absl::StatusOr<ModelConfig> config = ParseModelConfig(
      R"({"cell": "lstm", "hidden_size": 4, "embedding": {"num_embeddings": 9, "embedding_dim": 5}})");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->input_size, 5);
}

TEST(ConfigTest, KerasSpellingsAreAliases) {
  const absl::StatusOr<ModelConfig> config = ParseModelConfig(
      R"({"cell": "lstm", "input_size": 2, "hidden_size": 4, "naming": "keras",
          "recurrent_activation": "hard_sigmoid", "hard_sigmoid": "keras3"})");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->gate_activation, Activation::HardSigmoidKeras3());
}

// A config.json written from a dict of PyTorch constructor arguments carries
// nn.RNN's `nonlinearity` whatever the cell; it is `activation` by another name.
TEST(ConfigTest, NonlinearityIsActivationOnEveryCell) {
  for (const char* cell : {"lstm", "gru", "rnn"}) {
    SCOPED_TRACE(cell);
    const absl::StatusOr<ModelConfig> relu = ParseModelConfig(absl::StrCat(
        R"({"cell": ")", cell, R"(", "input_size": 1, "hidden_size": 2, "nonlinearity": "relu"})"));
    ASSERT_TRUE(relu.ok()) << relu.status();
    EXPECT_EQ(relu->activation, Activation::Relu());
    const absl::StatusOr<ModelConfig> both = ParseModelConfig(absl::StrCat(
        R"({"cell": ")", cell,
        R"(", "input_size": 1, "hidden_size": 2, "nonlinearity": "tanh", "activation": "tanh"})"));
    ASSERT_TRUE(both.ok()) << both.status();
    EXPECT_EQ(both->activation, Activation::Tanh());
  }
}

struct BadConfig {
  std::string name;
  std::string json;
  std::string message_part;
};

class BadConfigTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(BadConfigTest, IsRefusedNamingTheField) {
  const absl::StatusOr<ModelConfig> config = ParseModelConfig(GetParam().json);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr(GetParam().message_part));
}

INSTANTIATE_TEST_SUITE_P(
    Refusals, BadConfigTest,
    ::testing::Values(
        BadConfig{"NotJson", "{", "not valid JSON"},
        BadConfig{"NotObject", "[1]", "JSON object"},
        BadConfig{"MissingCell", R"({"input_size": 1, "hidden_size": 2})", "\"cell\" is required"},
        BadConfig{"UnknownCell", R"({"cell": "tcn", "input_size": 1, "hidden_size": 2})", "tcn"},
        BadConfig{"UnknownField", R"({"cell": "rnn", "input_size": 1, "hidden_size": 2, "hiden": 3})",
                  "unknown field \"hiden\""},
        BadConfig{"MissingHidden", R"({"cell": "rnn", "input_size": 1})", "\"hidden_size\" is required"},
        BadConfig{"NegativeSize", R"({"cell": "rnn", "input_size": -1, "hidden_size": 2})",
                  "\"input_size\" is -1"},
        BadConfig{"FloatSize", R"({"cell": "rnn", "input_size": 1.5, "hidden_size": 2})",
                  "\"input_size\" is 1.5"},
        BadConfig{"ProjTooLarge", R"({"cell": "lstm", "input_size": 1, "hidden_size": 2, "proj_size": 2})",
                  "\"proj_size\" is 2, want less than hidden_size 2"},
        BadConfig{"ProjOnGru", R"({"cell": "gru", "input_size": 1, "hidden_size": 4, "proj_size": 2})",
                  "\"proj_size\" applies to lstm only"},
        BadConfig{"NonlinearityConflictsWithActivation",
                  R"({"cell": "lstm", "input_size": 1, "hidden_size": 2, "activation": "relu", "nonlinearity": "tanh"})",
                  "\"activation\" is \"relu\" but \"nonlinearity\" is \"tanh\""},
        BadConfig{"UnknownFieldBesideNonlinearity",
                  R"({"cell": "gru", "input_size": 1, "hidden_size": 2, "nonlinearity": "tanh", "nonlinearty": "tanh"})",
                  "unknown field \"nonlinearty\""},
        BadConfig{"UnknownActivation",
                  R"({"cell": "rnn", "input_size": 1, "hidden_size": 2, "nonlinearity": "gelu"})",
                  "activation \"gelu\" is not supported"},
        BadConfig{"ConflictingAliases",
                  R"({"cell": "lstm", "input_size": 1, "hidden_size": 2, "gate_activation": "sigmoid", "recurrent_activation": "hard_sigmoid"})",
                  "they name the same function"},
        BadConfig{"BadHardSigmoidFlavour",
                  R"({"cell": "lstm", "input_size": 1, "hidden_size": 2, "gate_activation": "hard_sigmoid", "hard_sigmoid": "keras4"})",
                  "keras4"},
        BadConfig{"JordanWithoutHead", R"({"cell": "jordan", "input_size": 1, "hidden_size": 2})",
                  "want num_layers 1, a head"},
        BadConfig{"EmbeddingSizeMismatch",
                  R"({"cell": "lstm", "input_size": 3, "hidden_size": 2, "embedding": {"num_embeddings": 4, "embedding_dim": 5}})",
                  "want embedding_dim 5"},
        BadConfig{"BadHeadActivation",
                  R"({"cell": "rnn", "input_size": 1, "hidden_size": 2, "head": {"out_features": 3, "activation": "gelu"}})",
                  "head activation \"gelu\""},
        BadConfig{"SwappedNeedsSymmetricGate",
                  R"({"cell": "gru", "input_size": 1, "hidden_size": 2, "gru_update": "swapped", "gate_activation": "relu"})",
                  "\"gru_update\""},
        BadConfig{"KerasProjection",
                  R"({"cell": "lstm", "input_size": 1, "hidden_size": 3, "proj_size": 2, "naming": "keras"})",
                  "\"naming\" is \"keras\""},
        BadConfig{"NegativeClip", R"({"cell": "rnn", "input_size": 1, "hidden_size": 2, "clip": -1})",
                  "\"clip\" must be >= 0"},
        BadConfig{"GoBackwardsBidirectional",
                  R"({"cell": "rnn", "input_size": 1, "hidden_size": 2, "go_backwards": true, "bidirectional": true})",
                  "cannot be combined"}),
    [](const auto& info) { return info.param.name; });

TEST(ConfigTest, ReadsTransformBlocksScalarOrPerFeature) {
  const absl::StatusOr<ModelConfig> config = ParseModelConfig(R"({
      "cell": "gru", "input_size": 2, "hidden_size": 4, "head": {"out_features": 3},
      "input_transform": {"offset": [1, 2], "scale": 0.5},
      "output_transform": {"scale": [1, 2, 3]}})");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_TRUE(config->input_transform.has_value());
  EXPECT_EQ(config->input_transform->side(), StepTransform::Side::kInput);
  EXPECT_THAT(config->input_transform->offset(), ::testing::ElementsAre(1.0f, 2.0f));
  EXPECT_THAT(config->input_transform->scale(), ::testing::ElementsAre(0.5f));
  ASSERT_TRUE(config->output_transform.has_value());
  EXPECT_EQ(config->output_transform->side(), StepTransform::Side::kOutput);
  EXPECT_THAT(config->output_transform->offset(), ::testing::ElementsAre(0.0f));  // default
  EXPECT_THAT(config->output_transform->scale(), ::testing::ElementsAre(1.0f, 2.0f, 3.0f));
  EXPECT_FALSE(ParseModelConfig(R"({"cell": "gru", "input_size": 2, "hidden_size": 4})")
                   ->input_transform.has_value());
}

INSTANTIATE_TEST_SUITE_P(
    TransformRefusals, BadConfigTest,
    ::testing::Values(
        BadConfig{
            "ZeroScale",
            R"({"cell": "gru", "input_size": 2, "hidden_size": 4, "input_transform": {"scale": [1, 0]}})",
            "\"input_transform\" scale[1] is 0; want a finite non-zero number"},
        BadConfig{
            "InputWidth",
            R"({"cell": "gru", "input_size": 2, "hidden_size": 4, "input_transform": {"offset": [1, 2, 3]}})",
            "\"input_transform\" has values for 3 features, want 1 (every feature) or input_size "
            "2"},
        BadConfig{
            "OutputWidthWithHead",
            R"({"cell": "gru", "input_size": 2, "hidden_size": 4, "head": {"out_features": 3}, "output_transform": {"offset": [1, 2]}})",
            "want 1 (every feature) or head.out_features 3"},
        BadConfig{
            "OutputWidthWithoutHead",
            R"({"cell": "lstm", "input_size": 2, "hidden_size": 4, "bidirectional": true, "output_transform": {"offset": [1, 2]}})",
            "want 1 (every feature) or the top layer's width 8"},
        BadConfig{
            "OnTokens",
            R"({"cell": "gru", "hidden_size": 4, "embedding": {"num_embeddings": 9, "embedding_dim": 5}, "input_transform": {"offset": 1}})",
            "\"input_transform\" applies to float inputs only"},
        BadConfig{
            "NotANumber",
            R"({"cell": "gru", "input_size": 2, "hidden_size": 4, "output_transform": {"offset": "43"}})",
            "\"output_transform\" has offset \"43\"; want a float32 number or a list"},
        BadConfig{
            "UnknownTransformField",
            R"({"cell": "gru", "input_size": 2, "hidden_size": 4, "output_transform": {"mean": 1}})",
            "unknown field \"mean\" in output_transform"}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace rnnserve::model
