// `generate` against a spawned server: deterministic for a seed, exactly
// --length characters, the session kept or ended as documented.
#include "client/bench/metrics_scraper.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/cli_test_util.h"

namespace rnnserve::client::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class GenerateCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<ServerProcess>> server = ServerProcess::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    flag_ = "--server=" + server_->address();
  }
  CliResult Generate(std::vector<std::string> args) {
    args.insert(args.begin(), "generate");
    args.push_back(flag_);
    return RunCli(args);
  }
  std::unique_ptr<ServerProcess> server_;
  std::string flag_;
};

TEST_F(GenerateCommandTest, SameSeedSameTextOfTheAskedLength) {
  const std::string prompt = "Q: What is a computer?\nA:";
  const CliResult a = Generate(
      {"--model=charlm", "--prompt=" + prompt, "--length=120", "--seed=42", "--temperature=1"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_THAT(a.out, StartsWith(prompt));
  // Prompt, 120 characters (all one byte: the vocabulary is ASCII), newline.
  EXPECT_EQ(a.out.size(), prompt.size() + 120 + 1);
  EXPECT_EQ(a.out.back(), '\n');

  const CliResult b = Generate(
      {"--model=charlm", "--prompt=" + prompt, "--length=120", "--seed=42", "--temperature=1"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(a.out, b.out);
  // The ONNX twin holds the same weights: the same distributions, the same draws.
  const CliResult onnx = Generate({"--model=charlm_onnx", "--prompt=" + prompt, "--length=120",
                                   "--seed=42", "--temperature=1"});
  ASSERT_EQ(onnx.exit_code, 0) << onnx.err;
  EXPECT_EQ(onnx.out, a.out);

  const CliResult other = Generate(
      {"--model=charlm", "--prompt=" + prompt, "--length=120", "--seed=43", "--temperature=1"});
  ASSERT_EQ(other.exit_code, 0) << other.err;
  EXPECT_NE(a.out, other.out);
}

TEST_F(GenerateCommandTest, VocabularyFromTheModelsConfigIsTheDefault) {
  const std::vector<std::string> args = {"--prompt=The ", "--length=40", "--seed=3"};
  std::vector<std::string> with_file = args;
  with_file.push_back("--vocab=" + SourcePath("models/charlm/1/config.json"));
  const CliResult a = Generate(args);
  const CliResult b = Generate(with_file);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(a.out, b.out);
}

TEST_F(GenerateCommandTest, GreedyIsDeterministicWithoutSeed) {
  const CliResult a = Generate({"--prompt=Hello", "--length=30", "--temperature=0"});
  const CliResult b = Generate({"--prompt=Hello", "--length=30", "--temperature=0", "--seed=9"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
}

TEST_F(GenerateCommandTest, NamedSessionIsKeptWithEveryCharacterFed) {
  const CliResult r = Generate({"--prompt=abc", "--length=10", "--session=story"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const CliResult d = RunCli({"session", "describe", "story", "--json", flag_});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_THAT(d.out, HasSubstr("\"steps\":\"13\""));  // 3 prompt + 10 generated
  // A session with a random id is ended: the server holds none afterwards.
  const CliResult g = Generate({"--prompt=abc", "--length=1"});
  ASSERT_EQ(g.exit_code, 0) << g.err;
  EXPECT_EQ(g.out.size(), 3u + 1u + 1u);
  absl::StatusOr<std::string> page =
      bench::FetchMetrics(server_->metrics_address(), absl::Seconds(10));
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(*bench::MetricValue(*page, "rnnserve_sessions_created_total"), 2);
  EXPECT_EQ(*bench::MetricValue(*page, "rnnserve_sessions_ended_total"), 1);
  EXPECT_EQ(*bench::MetricValue(*page, "rnnserve_active_sessions"), 1);  // "story"
}

TEST_F(GenerateCommandTest, Errors) {
  EXPECT_EQ(Generate({"--length=5"}).exit_code, 2);  // no prompt
  CliResult r = Generate({"--model=forecast", "--prompt=x"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.err, HasSubstr("takes floats"));
  WriteFile(TempPath("vocab.json"), R"({"vocabulary": "abc"})");
  r = Generate({"--prompt=x", "--vocab=" + TempPath("vocab.json")});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.err, HasSubstr("the vocabulary has 4 tokens but model charlm takes 98"));
  r = Generate({"--model=nope", "--prompt=x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("NOT_FOUND"));
}

}  // namespace
}  // namespace rnnserve::client::testing
