// `stream` against a replica with --session_store (a real redis-server) that
// is killed and started again on its port: the session comes back from its
// checkpoint, behind the client; the step that pulls it is refused ABORTED
// with where it stands, and the client resends from there. With
// --keep_steps=5 the client has dropped every input a checkpoint holds
// (durable_steps), so this also proves it keeps the ones it needs.
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/cli_test_util.h"
#include "tests/common/program_run.h"
#include "tests/common/redis_server.h"
#include "util/npy.h"

namespace rnnserve::client::testing {
namespace {

using ::testing::HasSubstr;

// Waits at most 60 s until session `id`'s checkpoint in `redis` holds
// `steps` steps (its record: "<epoch> <checkpoint steps> <owner>\n...").
bool CheckpointReaches(const rnnserve::testing::RedisServer& redis, const std::string& id,
                       int64_t steps) {
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (absl::Now() < give_up) {
    const rnnserve::testing::ProgramResult get = rnnserve::testing::RunProgram(
        {"/usr/bin/redis-cli", "-p", absl::StrCat(redis.port()), "GET", "rnnserve:s:" + id}, "",
        absl::Seconds(10));
    const std::vector<std::string> header =
        absl::StrSplit(get.out.substr(0, get.out.find('\n')), ' ');
    if (header.size() >= 2 && header[1] == absl::StrCat(steps)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

TEST(StreamSessionStoreTest, ACrashedReplicasSessionComesBackFromItsCheckpointAndIsResent) {
  absl::StatusOr<std::unique_ptr<rnnserve::testing::RedisServer>> redis =
      rnnserve::testing::RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status();
  absl::StatusOr<util::NpyArray> input =
      util::ReadNpy(SourcePath("models/forecast/1/sample_input.npy"));
  absl::StatusOr<util::NpyArray> expected =
      util::ReadNpy(SourcePath("models/forecast/1/sample_expected.npy"));
  ASSERT_TRUE(input.ok() && expected.ok());
  std::vector<std::string> lines;
  for (float v : input->floats) lines.push_back(absl::StrFormat("%.9g\n", v));
  ASSERT_EQ(lines.size(), 50u);
  auto join = [&](size_t from, size_t to) {
    std::string text;
    for (size_t i = from; i < to; ++i) text += lines[i];
    return text;
  };

  std::vector<std::string> flags = {"--session_store=" + (*redis)->url(),
                                    "--checkpoint_interval=100ms"};
  absl::StatusOr<std::unique_ptr<ServerProcess>> server = ServerProcess::Start(flags);
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  std::unique_ptr<CliProcess> cli = CliProcess::Start(
      {"stream", "--model=forecast", "--session=kept", "--input=-", "--keep_steps=5",
       "--format=jsonl", absl::StrCat("--server=127.0.0.1:", port)});
  ASSERT_NE(cli, nullptr);
  cli->Write(join(0, 20));
  ASSERT_TRUE(cli->WaitForLines(20));
  // Once the checkpoint holds all 20 steps, the next answer says so
  // (durable_steps) and the client drops their inputs. Then the crash, right
  // after step 21.
  ASSERT_TRUE(CheckpointReaches(**redis, "kept", 20));
  cli->Write(join(20, 21));
  ASSERT_TRUE(cli->WaitForLines(21));
  (*server)->Kill();
  flags.push_back(absl::StrCat("--listen=127.0.0.1:", port));  // the last --listen wins
  server = ServerProcess::Start(flags);
  ASSERT_TRUE(server.ok()) << server.status();

  cli->Write(join(21, 50));
  const CliResult r = cli->Finish();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  RecordProperty("cli_stderr", r.err);
  // No replay (the inputs from step 1 are gone): resent from the checkpoint.
  EXPECT_THAT(r.err, HasSubstr(" 0 restarts"));
  const std::vector<std::string> out = [&] {
    std::vector<std::string> rows;
    size_t at = 0;
    while (at < r.out.size()) {
      const size_t end = r.out.find('\n', at);
      rows.push_back(r.out.substr(at, end - at));
      at = end == std::string::npos ? r.out.size() : end + 1;
    }
    return rows;
  }();
  ASSERT_EQ(out.size(), 50u) << r.out;
  for (size_t t = 0; t < out.size(); ++t) {
    // {"step": N, "output": [v]}: each step once, in order, the reference value.
    EXPECT_THAT(out[t], HasSubstr(absl::StrCat("{\"step\": ", t + 1, ", ")));
    float value = 0;
    ASSERT_EQ(sscanf(out[t].c_str() + out[t].find('[') + 1, "%f", &value), 1) << out[t];
    EXPECT_NEAR(value, expected->floats[t], kForecastTolerance) << "step " << t + 1;
  }
}

}  // namespace
}  // namespace rnnserve::client::testing
