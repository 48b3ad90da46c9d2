// Every call about one session carries the x-session-id header, and bench
// sends on each stream the id of the first session it carries, keeping each
// session on one stream (issue 7's proxy hashes the header). A recording fake
// of the API in this process stands in for the server: the real one does not
// expose the headers it received.
#include <map>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "rnnserve/v1/inference.grpc.pb.h"
#include "rnnserve/v1/models.grpc.pb.h"
#include "rnnserve/v1/sessions.grpc.pb.h"
#include "tests/client/cli_test_util.h"

namespace rnnserve::client::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

// One call as the fake saw it.
struct Call {
  std::string method;
  std::string header;                    // x-session-id, "" when absent
  std::vector<std::string> session_ids;  // of the requests (a stream's, in order)
};

// Answers like a model "m" of one float in, one float out (the output is the
// input), or "chars", 98 token ids in and 98 uniform scores out. Records
// every call; thread-safe.
class RecordingFake final : public v1::ModelService::Service,
                            public v1::SessionService::Service,
                            public v1::InferenceService::Service {
 public:
  std::vector<Call> calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  void Record(grpc::ServerContext* context, std::string method,
              std::vector<std::string> session_ids = {}) {
    const auto& metadata = context->client_metadata();
    const auto it = metadata.find("x-session-id");
    Call call{std::move(method),
              it == metadata.end() ? "" : std::string(it->second.data(), it->second.size()),
              std::move(session_ids)};
    absl::MutexLock lock(&mu_);
    calls_.push_back(std::move(call));
  }

  grpc::Status DescribeModel(grpc::ServerContext* context, const v1::ModelRef* request,
                             v1::ModelInfo* info) override {
    Record(context, "DescribeModel");
    info->mutable_model()->set_name(request->name());
    info->mutable_model()->set_version(1);
    info->set_streamable(true);
    if (request->name() == "chars") {
      info->set_input_kind(v1::INPUT_KIND_TOKENS);
      info->set_vocabulary_size(98);
      info->set_output_size(98);
    } else {
      info->set_input_kind(v1::INPUT_KIND_FLOATS);
      info->set_input_size(1);
      info->set_output_size(1);
    }
    return grpc::Status::OK;
  }

  // Counts each session's steps as the server does: clients check the
  // answer's session_steps against what they sent.
  void Answer(const v1::StepRequest& request, v1::StepResponse* response) {
    response->set_request_id(request.request_id());
    response->set_session_id(request.session_id());
    {
      absl::MutexLock lock(&mu_);
      int64_t& steps = steps_[request.session_id()];
      if (request.start()) steps = 0;
      steps += request.has_tokens() ? request.tokens().ids_size() : request.floats().steps();
      response->set_session_steps(steps);
    }
    v1::Outputs* outputs = response->mutable_outputs();
    if (request.has_tokens()) {
      for (int i = 0; i < 98; ++i) outputs->add_values(1.0f / 98);
      outputs->add_shape(1);
      outputs->add_shape(98);
    } else {
      *outputs->mutable_values() = request.floats().values();
      outputs->add_shape(request.floats().values_size());
      outputs->add_shape(1);
    }
  }

  grpc::Status StreamSteps(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::StepResponse, v1::StepRequest>* stream) override {
    std::vector<std::string> ids;
    v1::StepRequest request;
    while (stream->Read(&request)) {
      ids.push_back(request.session_id());
      v1::StepResponse response;
      Answer(request, &response);
      stream->Write(response);
    }
    Record(context, "StreamSteps", std::move(ids));
    return grpc::Status::OK;
  }

  grpc::Status Step(grpc::ServerContext* context, const v1::StepRequest* request,
                    v1::StepResponse* response) override {
    Record(context, "Step", {request->session_id()});
    Answer(*request, response);
    return grpc::Status::OK;
  }

  grpc::Status SessionCall(grpc::ServerContext* context, const char* method, const std::string& id,
                           v1::SessionInfo* info) {
    Record(context, method, {id});
    info->set_session_id(id);
    return grpc::Status::OK;
  }
  grpc::Status EndSession(grpc::ServerContext* c, const v1::SessionRef* r,
                          v1::SessionInfo* i) override {
    return SessionCall(c, "EndSession", r->session_id(), i);
  }
  grpc::Status ResetSession(grpc::ServerContext* c, const v1::SessionRef* r,
                            v1::SessionInfo* i) override {
    return SessionCall(c, "ResetSession", r->session_id(), i);
  }
  grpc::Status DescribeSession(grpc::ServerContext* c, const v1::SessionRef* r,
                               v1::SessionInfo*) override {
    Record(c, "DescribeSession", {r->session_id()});
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such session");
  }
  grpc::Status ExportState(grpc::ServerContext* c, const v1::SessionRef* r,
                           v1::SessionState* state) override {
    Record(c, "ExportState", {r->session_id()});
    state->set_session_id(r->session_id());
    state->set_state("1234");
    return grpc::Status::OK;
  }
  grpc::Status ImportState(grpc::ServerContext* c, const v1::SessionState* s,
                           v1::SessionInfo* i) override {
    return SessionCall(c, "ImportState", s->session_id(), i);
  }

  absl::Mutex mu_;
  std::vector<Call> calls_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> steps_ ABSL_GUARDED_BY(mu_);
};

class SessionHeaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(static_cast<v1::ModelService::Service*>(&fake_));
    builder.RegisterService(static_cast<v1::SessionService::Service*>(&fake_));
    builder.RegisterService(static_cast<v1::InferenceService::Service*>(&fake_));
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    flag_ = absl::StrCat("--server=127.0.0.1:", port);
  }
  void TearDown() override { server_->Shutdown(std::chrono::system_clock::now()); }

  // The calls, but ModelService's (not about a session).
  std::vector<Call> SessionCalls() {
    std::vector<Call> calls;
    for (Call& c : fake_.calls()) {
      if (c.method != "DescribeModel") calls.push_back(std::move(c));
    }
    return calls;
  }

  RecordingFake fake_;
  std::unique_ptr<grpc::Server> server_;
  std::string flag_;
};

TEST_F(SessionHeaderTest, StreamWithANamedSession) {
  ASSERT_EQ(
      RunCli({"stream", "--model=m", "--session=abc", "--input=-", flag_}, "1\n2\n").exit_code, 0);
  const std::vector<Call> calls = SessionCalls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].method, "DescribeSession");
  EXPECT_EQ(calls[0].header, "abc");
  EXPECT_EQ(calls[1].method, "StreamSteps");
  EXPECT_EQ(calls[1].header, "abc");
  EXPECT_THAT(calls[1].session_ids, ElementsAre("abc", "abc"));
}

TEST_F(SessionHeaderTest, StreamUnaryAndRandomSession) {
  ASSERT_EQ(RunCli({"stream", "--model=m", "--unary", "--input=-", flag_}, "1\n2\n").exit_code, 0);
  const std::vector<Call> calls = SessionCalls();
  ASSERT_EQ(calls.size(), 3u);
  const std::string id = calls[0].session_ids.at(0);
  EXPECT_EQ(id.substr(0, 4), "cli-");
  for (const Call& c : calls) {
    EXPECT_EQ(c.header, id) << c.method;
    EXPECT_THAT(c.session_ids, ElementsAre(id)) << c.method;
  }
  EXPECT_EQ(calls[0].method, "Step");
  EXPECT_EQ(calls[2].method, "EndSession");  // a random session is ended
}

TEST_F(SessionHeaderTest, Generate) {
  const CliResult r = RunCli({"generate", "--model=chars", "--prompt=hi", "--length=3", flag_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<Call> calls = SessionCalls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].method, "StreamSteps");
  ASSERT_EQ(calls[0].session_ids.size(), 3u);  // the prompt, then 2 fed characters
  EXPECT_EQ(calls[0].header, calls[0].session_ids[0]);
}

TEST_F(SessionHeaderTest, SessionCommands) {
  const std::string state = TempPath("fake.state");
  ASSERT_EQ(RunCli({"session", "export", "s1", "--out=" + state, flag_}).exit_code, 0);
  ASSERT_EQ(RunCli({"session", "import", state, "--session=s2", flag_}).exit_code, 0);
  ASSERT_EQ(RunCli({"session", "reset", "s3", flag_}).exit_code, 0);
  ASSERT_EQ(RunCli({"session", "end", "s4", flag_}).exit_code, 0);
  EXPECT_EQ(RunCli({"session", "describe", "s5", flag_}).exit_code, 1);
  std::vector<std::pair<std::string, std::string>> seen;
  for (const Call& c : SessionCalls()) seen.emplace_back(c.method, c.header);
  EXPECT_THAT(seen, ElementsAre(Pair("ExportState", "s1"), Pair("ImportState", "s2"),
                                Pair("ResetSession", "s3"), Pair("EndSession", "s4"),
                                Pair("DescribeSession", "s5")));
}

TEST_F(SessionHeaderTest, BenchKeepsEachSessionOnTheStreamNamedByItsFirst) {
  // Enough steps that even a stream the scheduler starves reaches all of its
  // sessions (the budget is shared by the streams; 70 once left one at 2).
  const CliResult r = RunCli({"bench", "--model=m", "--sessions=7", "--streams=3", "--channels=2",
                              "--steps=700", "--json", flag_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::set<std::string> sessions;
  int streams = 0;
  for (const Call& c : SessionCalls()) {
    if (c.method == "EndSession") {
      EXPECT_EQ(c.header, c.session_ids.at(0));
      continue;
    }
    ASSERT_EQ(c.method, "StreamSteps");
    ++streams;
    ASSERT_FALSE(c.session_ids.empty());
    EXPECT_EQ(c.header, c.session_ids.front());
    // Ids end in "-<i>"; a stream carries the sessions i with one i % 3.
    auto index = [](const std::string& id) {
      int i = -1;
      EXPECT_TRUE(absl::SimpleAtoi(id.substr(id.rfind('-') + 1), &i)) << id;
      return i;
    };
    for (const std::string& id : c.session_ids) {
      EXPECT_EQ(index(id) % 3, index(c.header) % 3) << id;
      sessions.insert(id);
    }
  }
  EXPECT_EQ(streams, 3);
  EXPECT_EQ(sessions.size(), 7u);
}

}  // namespace
}  // namespace rnnserve::client::testing
