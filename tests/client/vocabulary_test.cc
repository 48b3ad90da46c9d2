#include "client/vocabulary.h"

#include <vector>

#include "client/token_sampler.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/cli_test_util.h"

namespace rnnserve::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(Vocabulary, DemoMatchesTheModelsConfig) {
  const Vocabulary demo = Vocabulary::Demo();
  absl::StatusOr<Vocabulary> config =
      Vocabulary::Load(testing::SourcePath("models/charlm/1/config.json"));
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(demo.size(), 98);
  ASSERT_EQ(config->size(), 98);
  EXPECT_EQ(config->unknown_id(), 97);
  for (int64_t id = 0; id < 98; ++id) EXPECT_EQ(demo.Decode(id), config->Decode(id)) << id;
  EXPECT_THAT(demo.Encode("\tA~\xc3\xa9"), ElementsAre(0, 35, 96, 97));  // é is unknown
  EXPECT_EQ(demo.Decode(97), std::nullopt);
}

TEST(Vocabulary, OtherForms) {
  const std::string list = testing::TempPath("list.json");
  testing::WriteFile(list, R"(["a", "bc", "\u00e9"])");
  absl::StatusOr<Vocabulary> v = Vocabulary::Load(list);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->size(), 4);
  EXPECT_EQ(v->unknown_id(), 3);
  EXPECT_THAT(v->Encode("a\xc3\xa9z"), ElementsAre(0, 2, 3));

  testing::WriteFile(list, R"({"vocabulary": "xy", "unknown_id": 0})");
  v = Vocabulary::Load(list);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->size(), 2);
  EXPECT_THAT(v->Encode("yx"), ElementsAre(1, 0));

  testing::WriteFile(list, "not json");
  EXPECT_THAT(Vocabulary::Load(list).status().message(), HasSubstr("not JSON"));
  testing::WriteFile(list, R"({"vocab": 3})");
  EXPECT_THAT(Vocabulary::Load(list).status().message(), HasSubstr("no vocabulary"));
}

TEST(TokenSampler, DeterministicPerSeedAndNeverTheExcludedId) {
  const std::vector<float> probabilities = {0.1f, 0.2f, 0.3f, 0.4f};
  std::vector<int64_t> a, b;
  TokenSampler first(1.0, 5), second(1.0, 5);
  std::vector<int> counts(4);
  for (int i = 0; i < 4000; ++i) {
    a.push_back(first.Sample(probabilities.data(), 4, 3));
    b.push_back(second.Sample(probabilities.data(), 4, 3));
    ++counts[a.back()];
  }
  EXPECT_EQ(a, b);
  EXPECT_EQ(counts[3], 0);
  // 0.1 : 0.2 : 0.3 renormalised, loosely.
  EXPECT_GT(counts[2], counts[0]);
}

TEST(TokenSampler, GreedyAndLogits) {
  const std::vector<float> probabilities = {0.1f, 0.6f, 0.3f};
  EXPECT_EQ(TokenSampler(0, 1).Sample(probabilities.data(), 3, -1), 1);
  EXPECT_EQ(TokenSampler(0, 1).Sample(probabilities.data(), 3, 1), 2);
  // Not a distribution: read as logits; a tiny temperature is greedy.
  const std::vector<float> logits = {-3.0f, 7.0f, 2.0f};
  TokenSampler cold(1e-3, 1);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(cold.Sample(logits.data(), 3, -1), 1);
}

}  // namespace
}  // namespace rnnserve::client
