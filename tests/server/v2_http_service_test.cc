// The Open Inference Protocol over HTTP/REST end to end: a real RnnServer
// with its gRPC and HTTP listeners on 127.0.0.1:<free ports> and the lstm
// (FP32) and charlm (token) fixtures, called over raw sockets with JSON
// bodies as curl or a KServe client sends them. Outputs equal the native
// API's on the same inputs (1e-6) and the reference (1e-5), step by step and
// in chunks, with uint64 and string sequence ids; a session continues
// across protocols; bad requests get their status and message, the server
// keeps serving and a witness session is unchanged.
#include <algorithm>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "rnnserve/v1/inference.grpc.pb.h"
#include "rnnserve/v1/sessions.grpc.pb.h"
#include "server/rnn_server.h"
#include "tests/common/program_run.h"
#include "tests/common/redis_server.h"
#include "tests/common/test_certificates.h"
#include "tests/model/test_util.h"
#include "tests/server/http_call.h"
#include "tests/server/metric_value.h"
#include "tests/server/v2_test_base.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::OutputRowsNear;
using ::rnnserve::model::testing::ReferenceSequence;
using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

class V2HttpServiceTest : public V2TestBase {
 protected:
  static void SetUpTestSuite() { LoadFixtures("v2_http"); }

  void SetUp() override { StartServer(Options()); }

  // V2TestBase::StartServer, with the HTTP listener up.
  void StartServer(const ServerOptions& options) {
    V2TestBase::StartServer(options);
    ASSERT_GT(server_->http_port(), 0);
  }

  static ServerOptions Options() {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.http_listen = "127.0.0.1:0";
    options.models = *root_;
    options.batcher.workers = 2;
    return options;
  }

  // Steps [first, first + count) of seq() as a JSON request body, data
  // nested [count][width]; `sequence_id` null: a stateless run.
  static json Steps(const json& sequence_id, int64_t first, int64_t count, bool start,
                    bool end = false) {
    json data = json::array();
    for (int64_t t = first; t < first + count; ++t) {
      data.push_back(std::vector<float>(seq().input.floats.begin() + t * InWidth(),
                                        seq().input.floats.begin() + (t + 1) * InWidth()));
    }
    json body = {{"id", absl::StrCat("rest:", first)},
                 {"inputs",
                  {{{"name", "input"},
                    {"shape", {count, InWidth()}},
                    {"datatype", "FP32"},
                    {"data", data}}}}};
    if (!sequence_id.is_null()) {
      body["parameters"] = {
          {"sequence_id", sequence_id}, {"sequence_start", start}, {"sequence_end", end}};
    }
    return body;
  }

  HttpAnswer Post(const std::string& path, const std::string& body,
                  const std::string& headers = "") {
    return HttpCall(server_->http_port(), "POST", path, body, headers);
  }
  HttpAnswer Get(const std::string& path, const std::string& headers = "") {
    return HttpCall(server_->http_port(), "GET", path, "", headers);
  }
  HttpAnswer Infer(const json& body, const std::string& model = "lstm") {
    return Post(absl::StrCat("/v2/models/", model, "/infer"), body.dump());
  }

  // rnnserve_requests_total of the REST `method` answered `code`.
  double RequestCount(const std::string& method, const std::string& code) {
    return MetricValue(*server_->registry(), "rnnserve_requests_total",
                       {{"protocol", "inference-http"}, {"method", method}, {"code", code}});
  }

  // The output values of a successful answer.
  static std::vector<float> ValuesOf(const HttpAnswer& answer) {
    EXPECT_EQ(answer.status, 200) << answer.body;
    const json body = json::parse(answer.body, nullptr, false);
    if (!body.is_object() || !body.contains("outputs")) return {};
    return body["outputs"][0]["data"].get<std::vector<float>>();
  }
};

TEST_F(V2HttpServiceTest, HealthAndMetadataDescribeTheModelsAndTheSequenceExtension) {
  EXPECT_EQ(Get("/v2/health/live").status, 200);
  EXPECT_EQ(Get("/v2/health/ready").status, 200);
  const HttpAnswer server = Get("/v2");
  ASSERT_EQ(server.status, 200);
  EXPECT_EQ(json::parse(server.body)["extensions"],
            json::array({"sequence", "sequence(string_id)"}));
  const HttpAnswer lstm = Get("/v2/models/lstm");
  ASSERT_EQ(lstm.status, 200) << lstm.body;
  const json metadata = json::parse(lstm.body);
  EXPECT_EQ(metadata["name"], "lstm");
  EXPECT_EQ(metadata["versions"], json::array({"1"}));
  EXPECT_EQ(metadata["inputs"][0]["datatype"], "FP32");
  EXPECT_EQ(metadata["inputs"][0]["shape"], json::array({-1, InWidth()}));
  EXPECT_EQ(metadata["outputs"][0]["shape"], json::array({-1, OutWidth()}));
  EXPECT_EQ(metadata["parameters"]["weights"], "fp32");
  EXPECT_GT(metadata["parameters"]["weight_bytes"].get<int64_t>(), 0);
  EXPECT_EQ(json::parse(Get("/v2/models/charlm/versions/1").body)["inputs"][0]["datatype"],
            "INT64");
  EXPECT_EQ(Get("/v2/models/lstm/ready").status, 200);
  EXPECT_EQ(Get("/v2/models/lstm/versions/1/ready").status, 200);
  EXPECT_EQ(Get("/v2/models/lstm/versions/2/ready").status, 404);
  const HttpAnswer unknown = Get("/v2/models/nope");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_THAT(json::parse(unknown.body)["error"].get<std::string>(), HasSubstr("nope"));
}

TEST_F(V2HttpServiceTest, InferStepByStepWithAUint64IdEqualsTheNativeApiAndTheReference) {
  const int64_t steps = std::min<int64_t>(seq().steps(), 6);
  for (int64_t t = 0; t < steps; ++t) {
    const HttpAnswer answer = Infer(Steps(uint64_t{42}, t, 1, t == 0));
    const std::vector<float> rest = ValuesOf(answer);
    const json body = json::parse(answer.body);
    EXPECT_EQ(body["id"], absl::StrCat("rest:", t));
    EXPECT_EQ(body["model_name"], "lstm");
    EXPECT_EQ(body["parameters"]["session_steps"], t + 1);
    EXPECT_EQ(body["outputs"][0]["shape"], json::array({1, OutWidth()}));
    ExpectNear(rest, NativeSteps("native-uint64", t, 1, t == 0));
    EXPECT_TRUE(MatchesReference(rest, t));
  }
  EXPECT_EQ(StepsOf("42"), steps);
  // sequence_end ends the session after the request.
  ValuesOf(Infer(Steps(uint64_t{42}, steps, 1, false, true)));
  EXPECT_EQ(StepsOf("42"), -1);
}

TEST_F(V2HttpServiceTest, InferInChunksWithAStringIdEqualsTheNativeApi) {
  const int64_t steps = seq().steps();
  for (int64_t first = 0; first < steps; first += 3) {
    const int64_t count = std::min<int64_t>(3, steps - first);
    const std::vector<float> rest = ValuesOf(Infer(Steps("chunked", first, count, first == 0)));
    ExpectNear(rest, NativeSteps("native-chunked", first, count, first == 0));
    EXPECT_TRUE(MatchesReference(rest, first));
  }
  EXPECT_EQ(StepsOf("chunked"), steps);
}

TEST_F(V2HttpServiceTest, ASessionContinuesAcrossProtocols) {
  // Native gRPC starts it, REST continues it, native gRPC continues again.
  NativeSteps("shared", 0, 2, true);
  const std::vector<float> rest = ValuesOf(Infer(Steps("shared", 2, 2, false)));
  EXPECT_TRUE(MatchesReference(rest, 2));
  EXPECT_TRUE(MatchesReference(NativeSteps("shared", 4, 1, false), 4));
  EXPECT_EQ(StepsOf("shared"), 5);
}

TEST_F(V2HttpServiceTest, WithoutASequenceIdARequestIsAStatelessWholeSequence) {
  json request = Steps(nullptr, 0, seq().steps(), false);
  request["parameters"] = {{"output_mode", "last_step"}};
  const HttpAnswer answer = Infer(request);
  const std::vector<float> rest = ValuesOf(answer);
  EXPECT_FALSE(json::parse(answer.body).contains("parameters"));
  EXPECT_TRUE(MatchesReference(rest, seq().steps() - 1));

  // Token ids for charlm, [1, T] INT64, flat data.
  const ReferenceSequence& text = (*charlm_)[1];
  const json tokens = {{"inputs",
                        {{{"name", "input"},
                          {"shape", {1, text.steps()}},
                          {"datatype", "INT64"},
                          {"data", text.input.integers}}}}};
  const HttpAnswer charlm = Infer(tokens, "charlm");
  const std::vector<float> got = ValuesOf(charlm);
  const int64_t width = text.expected.shape[1];
  EXPECT_EQ(json::parse(charlm.body)["outputs"][0]["shape"], json::array({1, text.steps(), width}));
  ASSERT_EQ(static_cast<int64_t>(got.size()), text.steps() * width);
  EXPECT_TRUE(OutputRowsNear(got.data(), text.expected.floats.data(), text.steps(), width));
}

TEST_F(V2HttpServiceTest, BadRequestsGetTheirStatusAndMessageAndLeaveAWitnessUnchanged) {
  ValuesOf(Infer(Steps("witness", 0, 2, true)));
  struct Case {
    std::string what;
    std::string path;
    std::string body;
    int status;
    std::string message;
  };
  json wrong_type = Steps("witness", 2, 1, false);
  wrong_type["inputs"][0]["datatype"] = "FP16";
  json floats_as_ids = Steps("witness", 2, 1, false);
  floats_as_ids["inputs"][0]["datatype"] = "INT64";
  json mismatch = Steps("witness", 2, 1, false);
  mismatch["inputs"][0]["shape"] = {2, InWidth()};
  json string_value = Steps("witness", 2, 1, false);
  string_value["inputs"][0]["data"][0][1] = "x";
  json start_without_id = Steps(nullptr, 2, 1, false);
  start_without_id["parameters"] = {{"sequence_start", true}};
  json bad_id = Steps(json::array({1}), 2, 1, false);
  const std::string deep = std::string(100, '[') + std::string(100, ']');
  const std::vector<Case> cases = {
      {"malformed JSON", "/v2/models/lstm/infer", R"({"inputs": [)", 400, "is not JSON"},
      {"not an object", "/v2/models/lstm/infer", "[1, 2]", 400, "want an object"},
      {"no inputs", "/v2/models/lstm/infer", "{}", 400, "no \"inputs\" array"},
      {"wrong datatype", "/v2/models/lstm/infer", wrong_type.dump(), 400,
       "input input is FP16; this model takes FP32 features"},
      {"floats sent as INT64", "/v2/models/lstm/infer", floats_as_ids.dump(), 400,
       "want an integer (INT64)"},
      {"shape/data mismatch", "/v2/models/lstm/infer", mismatch.dump(), 400, "wants"},
      {"a string in data", "/v2/models/lstm/infer", string_value.dump(), 400,
       "inputs[0].data[0][1] is \"x\"; want a number (FP32)"},
      {"unknown model", "/v2/models/nope/infer", Steps("witness", 2, 1, false).dump(), 404,
       "not served"},
      {"bad version", "/v2/models/lstm/versions/x/infer", Steps("witness", 2, 1, false).dump(), 400,
       "not a version"},
      {"sequence_start without sequence_id", "/v2/models/lstm/infer", start_without_id.dump(), 400,
       "needs a sequence_id"},
      {"a sequence_id that is an array", "/v2/models/lstm/infer", bad_id.dump(), 400,
       "parameter sequence_id is an array"},
      {"unknown sequence", "/v2/models/lstm/infer", Steps("never-started", 0, 1, false).dump(), 404,
       "sequence_start=true"},
      {"non-UTF-8", "/v2/models/lstm/infer", "{\"id\": \"\xff\xfe\", \"inputs\": []}", 400,
       "is not JSON"},
      {"deep nesting", "/v2/models/lstm/infer", deep, 400, "nests arrays and objects 100 deep"},
      {"unknown endpoint", "/v2/modelz", "", 404, "no endpoint"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const HttpAnswer answer = Post(c.path, c.body);
    EXPECT_EQ(answer.status, c.status) << answer.body;
    const json body = json::parse(answer.body, nullptr, false);
    ASSERT_TRUE(body.is_object() && body["error"].is_string()) << answer.body;
    EXPECT_THAT(body["error"].get<std::string>(), HasSubstr(c.message));
    EXPECT_EQ(Get("/v2/health/live").status, 200);  // still serving
  }
  // The sequence_start hint is for an unknown sequence only, not an unknown
  // model or version (a step naming a sequence that was never started).
  for (const std::string path : {"/v2/models/nope/infer", "/v2/models/lstm/versions/9/infer"}) {
    SCOPED_TRACE(path);
    const HttpAnswer answer = Post(path, Steps("never-started", 0, 1, false).dump());
    EXPECT_EQ(answer.status, 404) << answer.body;
    EXPECT_THAT(answer.body, Not(HasSubstr("sequence_start")));
  }
  const HttpAnswer get_infer = Get("/v2/models/lstm/infer");
  EXPECT_EQ(get_infer.status, 405);
  EXPECT_THAT(get_infer.body, HasSubstr("takes POST"));
  EXPECT_EQ(StepsOf("witness"), 2);
  EXPECT_TRUE(MatchesReference(ValuesOf(Infer(Steps("witness", 2, 1, false))), 2));
}

TEST_F(V2HttpServiceTest, TheLimitsHold) {
  ServerOptions options = Options();
  options.max_message_bytes = 64 << 10;
  options.sessions.max_sessions = 2;
  StartServer(options);
  ValuesOf(Infer(Steps("witness", 0, 1, true)));
  // A body past --max_message_bytes is refused by its length, unread.
  json huge = Steps("witness", 1, 1, false);
  huge["id"] = std::string(80 << 10, 'x');
  HttpAnswer answer = Infer(huge);
  EXPECT_EQ(answer.status, 413);
  EXPECT_THAT(answer.body, HasSubstr("--max_message_bytes"));
  // Over the session limit: 429.
  ValuesOf(Infer(Steps("second", 0, 1, true)));
  answer = Infer(Steps("third", 0, 1, true));
  EXPECT_EQ(answer.status, 429) << answer.body;
  EXPECT_EQ(StepsOf("witness"), 1);
  EXPECT_TRUE(MatchesReference(ValuesOf(Infer(Steps("witness", 1, 1, false))), 1));
}

// HTTP carries no deadline: ServerOptions::http_infer_timeout is each
// inference request's. Past it the request is answered 504 with a message,
// a session step and a stateless run alike, and the step is not applied (it
// is still queued at its deadline: the batcher drops it). (A runner that
// stalls: AStalledRequestIsAnswered504AtItsDeadline.)
TEST_F(V2HttpServiceTest, ARequestPastItsDeadlineIsAnswered504) {
  ServerOptions options = Options();
  options.http_infer_timeout = absl::Nanoseconds(1);
  StartServer(options);
  NativeSteps("late", 0, 2, true);
  for (const json& body : {Steps("late", 2, 1, false), Steps(nullptr, 0, 3, false)}) {
    const HttpAnswer answer = Infer(body);
    EXPECT_EQ(answer.status, 504) << answer.body;
    const json error = json::parse(answer.body, nullptr, false);
    ASSERT_TRUE(error.is_object() && error["error"].is_string()) << answer.body;
    EXPECT_THAT(error["error"].get<std::string>(), HasSubstr("deadline"));
  }
  EXPECT_EQ(StepsOf("late"), 2);
  EXPECT_EQ(Get("/v2/models/lstm").status, 200);  // only inference has a deadline
  EXPECT_EQ(RequestCount("ModelInfer", "DEADLINE_EXCEEDED"), 2);
}

// The HTTP thread's wait ends at the deadline even when the runner has not
// answered: here a step on a session this replica does not hold is looked
// up in the session tier's Redis, paused (SIGSTOP: it answers nothing, and
// the lookup waits out its 500 ms command timeout). The late answer lands
// after the request was answered 504, and the server keeps serving.
TEST_F(V2HttpServiceTest, AStalledRequestIsAnswered504AtItsDeadline) {
  absl::StatusOr<std::unique_ptr<::rnnserve::testing::RedisServer>> redis =
      ::rnnserve::testing::RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status();
  ServerOptions options = Options();
  options.session_store.url = (*redis)->url();
  options.http_infer_timeout = absl::Milliseconds(100);
  StartServer(options);
  (*redis)->Pause();
  const HttpAnswer stalled = Infer(Steps("elsewhere", 0, 1, false));
  (*redis)->Resume();
  // This message is the wait's own: the runner's answer (the lookup's
  // UNAVAILABLE or NOT_FOUND) comes only after the lookup's timeout.
  EXPECT_EQ(stalled.status, 504) << stalled.body;
  EXPECT_THAT(stalled.body,
              HasSubstr("no answer before the deadline (--http_infer_timeout=100ms)"));
  // The late answer lands (on state it shares with the reply, not on the
  // request's gone frame) while the server runs; a new session steps.
  absl::SleepFor(absl::Seconds(1));
  EXPECT_TRUE(MatchesReference(ValuesOf(Infer(Steps("after", 0, 1, true))), 0));
}

TEST_F(V2HttpServiceTest, WithATokenEveryEndpointButHealthWantsIt) {
  const std::string token_file = absl::StrCat(::testing::TempDir(), "/v2_http_token");
  std::ofstream(token_file) << "s3cret\n";
  ServerOptions options = Options();
  options.security.token_file = token_file;
  StartServer(options);
  EXPECT_EQ(Get("/v2/health/live").status, 200);
  EXPECT_EQ(Get("/v2/health/ready").status, 200);
  HttpAnswer answer = Get("/v2/models/lstm");
  EXPECT_EQ(answer.status, 401);
  EXPECT_THAT(answer.body, HasSubstr("Authorization: Bearer"));
  answer = Post("/v2/models/lstm/infer", Steps("t", 0, 1, true).dump(),
                "Authorization: Bearer wrong\r\n");
  EXPECT_EQ(answer.status, 401);
  EXPECT_EQ(StepsOf("t"), -1);
  answer = Post("/v2/models/lstm/infer", Steps("t", 0, 1, true).dump(),
                "Authorization: Bearer s3cret\r\n");
  EXPECT_TRUE(MatchesReference(ValuesOf(answer), 0));
}

TEST_F(V2HttpServiceTest, RequestsAreCountedByProtocolMethodAndCode) {
  EXPECT_EQ(RequestCount("ModelInfer", "OK"), 0);  // registered from the start
  ValuesOf(Infer(Steps("counted", 0, 1, true)));
  Infer(Steps("counted", 0, 1, false, false)["inputs"]);  // not an object
  Get("/v2/models/nope");
  EXPECT_EQ(RequestCount("ModelInfer", "OK"), 1);
  EXPECT_EQ(RequestCount("ModelInfer", "INVALID_ARGUMENT"), 1);
  EXPECT_EQ(RequestCount("ModelMetadata", "NOT_FOUND"), 1);
}

// examples/v2_rest_session.sh, the curl session the README shows, against
// the demo model it names.
TEST_F(V2HttpServiceTest, TheCurlExampleRunsASession) {
  ServerOptions options = Options();
  options.models = absl::StrCat(RNNSERVE_SOURCE_DIR, "/models");
  StartServer(options);
  const ::rnnserve::testing::ProgramResult run = ::rnnserve::testing::RunProgram(
      {"/bin/bash", absl::StrCat(RNNSERVE_SOURCE_DIR, "/examples/v2_rest_session.sh"),
       absl::StrCat("http://127.0.0.1:", server_->http_port()), "forecast"});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("session curl-demo: 3 steps over REST, ended"));
}

// With gRPC's TLS files the REST listener serves HTTPS only, from the same
// files: the curl example runs its session with --cacert and the test CA;
// plain HTTP gets no answer, nor a curl that does not trust the CA; with
// --tls_client_ca only a client certificate that CA signed gets in.
TEST_F(V2HttpServiceTest, WithTlsItServesHttpsFromTheSameFilesAsGrpc) {
  const ::rnnserve::testing::Certificates certs;
  ServerOptions options = Options();
  options.models = absl::StrCat(RNNSERVE_SOURCE_DIR, "/models");
  options.security.tls_cert = certs.Path("server.pem");
  options.security.tls_key = certs.Path("server.key");
  StartServer(options);
  const std::string base = absl::StrCat("https://127.0.0.1:", server_->http_port());
  const std::string example = absl::StrCat(RNNSERVE_SOURCE_DIR, "/examples/v2_rest_session.sh");
  ::rnnserve::testing::ProgramResult run = ::rnnserve::testing::RunProgram(
      {"/bin/bash", example, base, "forecast", "--cacert", certs.Path("ca.pem")});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("session curl-demo: 3 steps over REST, ended"));
  // A client that does not trust the CA: curl's "SSL certificate problem" (60).
  run = ::rnnserve::testing::RunProgram(
      {"/usr/bin/curl", "--silent", "--max-time", "10", base + "/v2/health/live"});
  EXPECT_EQ(run.exit_code, 60) << run.err;
  EXPECT_EQ(Get("/v2/health/live").status, 0);  // plain HTTP: no answer

  options.security.tls_client_ca = certs.Path("ca.pem");
  StartServer(options);
  const std::string live =
      absl::StrCat("https://localhost:", server_->http_port(), "/v2/health/live");
  const auto curl_status = [&](const std::vector<std::string>& client) {
    std::vector<std::string> argv = {
        "/usr/bin/curl", "--silent",    "--max-time",   "10",       "--output",
        "/dev/null",     "--write-out", "%{http_code}", "--cacert", certs.Path("ca.pem")};
    argv.insert(argv.end(), client.begin(), client.end());
    argv.push_back(live);
    return ::rnnserve::testing::RunProgram(argv).out;
  };
  EXPECT_EQ(curl_status({"--cert", certs.Path("client.pem"), "--key", certs.Path("client.key")}),
            "200");
  EXPECT_EQ(curl_status({}), "000");  // no client certificate: the handshake fails
  EXPECT_EQ(
      curl_status({"--cert", certs.Path("stranger.pem"), "--key", certs.Path("stranger.key")}),
      "000");
}

TEST_F(V2HttpServiceTest, ShutdownStopsTheHttpListener) {
  const int port = server_->http_port();
  server_->Shutdown(absl::ZeroDuration());
  EXPECT_EQ(HttpCall(port, "GET", "/v2/health/live").status, 0);
}

}  // namespace
}  // namespace rnnserve::server
