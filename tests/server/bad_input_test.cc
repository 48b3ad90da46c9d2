// Bad requests against a real server on 127.0.0.1:0 (README "Bad input"):
// NaN and infinite inputs, huge and empty chunks, requests that ask for too
// much (an answer past the message limit, more steps than the cap), the
// wrong input kind or shape, tokens outside the vocabulary, unknown enum values and fields,
// oversize and unparseable messages, and session ids of absurd length or
// bytes. Each gets its gRPC code and a message saying what was expected, on
// the unary call and on a stream that goes on; none touches another session:
// a witness session steps between every two cases and must match the PyTorch
// reference within 1e-5, and the session the bad requests name keeps its
// state and step count.
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/sync_stream.h"
#include "gtest/gtest.h"
#include "rnnserve/v1/inference.grpc.pb.h"
#include "server/rnn_server.h"
#include "tests/model/test_util.h"
#include "tests/server/raw_call.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::LoadSequences;
using ::rnnserve::model::testing::ReferenceSequence;
using ::rnnserve::model::testing::TestdataPath;
using ::testing::HasSubstr;

constexpr float kTolerance = 1e-5f;
constexpr int64_t kMaxMessageBytes = 4 << 20;
constexpr int kWidth = 3;        // lstm_3layer's input_size
constexpr int kVocabulary = 11;  // charlm's
// --max_steps_per_request by default: one step per 64 bytes of the limit.
constexpr int64_t kDerivedMaxSteps = kMaxMessageBytes / 64;
// lstm answers 6 floats a step: 180 000 steps are 4 320 000 bytes, past the
// limit, in a request of 2.2 MB that fits it.
constexpr int64_t kAnswerPastLimit = 180'000;

// One bad request and what it must get.
struct Case {
  std::string name;
  v1::StepRequest request;
  grpc::StatusCode code;
  std::string message;  // a part of the error message
};

class BadInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(model::testing::MakeTestRepository(
        "bad_input", {{"lstm_3layer", "lstm/1"}, {"charlm", "charlm/1"}}));
    sequence_ = new ReferenceSequence(LoadSequences(TestdataPath("model/lstm_3layer")).back());
  }

  void SetUp() override {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.models = *root_;
    options.max_message_bytes = kMaxMessageBytes;
    options.batcher.workers = 2;
    absl::StatusOr<std::unique_ptr<RnnServer>> server = RnnServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::InferenceService::NewStub(channel_);
  }

  // Steps t to t + count - 1 of the reference sequence for `session`.
  static v1::StepRequest Good(const std::string& session, int64_t t, int64_t count = 1,
                              bool start = false) {
    v1::StepRequest request;
    request.set_session_id(session);
    request.mutable_model()->set_name("lstm");
    request.set_start(start);
    request.mutable_floats()->mutable_values()->Assign(
        sequence_->input.floats.begin() + t * kWidth,
        sequence_->input.floats.begin() + (t + count) * kWidth);
    return request;
  }

  static v1::StepRequest Tokens(const std::string& session, std::vector<int64_t> ids) {
    v1::StepRequest request;
    request.set_session_id(session);
    request.mutable_model()->set_name("charlm");
    request.set_start(true);
    request.mutable_tokens()->mutable_ids()->Assign(ids.begin(), ids.end());
    return request;
  }

  // `steps` steps of 0.5 for `session` (no start): lstm chunks of any length.
  static v1::StepRequest Ones(const std::string& session, int64_t steps) {
    v1::StepRequest request = Good(session, 0);
    request.mutable_floats()->mutable_values()->Resize(static_cast<int>(steps * kWidth), 0.5f);
    return request;
  }

  grpc::Status Step(const v1::StepRequest& request, v1::StepResponse* response) {
    grpc::ClientContext context;
    return stub_->Step(&context, request, response);
  }

  // Expects `response` to be steps t... of the reference.
  static void ExpectReference(const v1::StepResponse& response, int64_t t) {
    const int64_t width = sequence_->expected.shape[1];
    ASSERT_EQ(response.outputs().values_size() % width, 0);
    for (int64_t i = 0; i < response.outputs().values_size(); ++i) {
      ASSERT_NEAR(response.outputs().values(i), sequence_->expected.floats[t * width + i],
                  kTolerance)
          << "step " << t + i / width << " output " << i % width;
    }
  }

  // The witness session takes its next step and must match the reference.
  void StepWitness() {
    v1::StepResponse response;
    const grpc::Status status =
        Step(Good("witness", witness_steps_, 1, witness_steps_ == 0), &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(response.session_steps(), witness_steps_ + 1);
    ExpectReference(response, witness_steps_);
    ++witness_steps_;
  }

  // Every bad StepRequest the server must refuse, for the "victim" session
  // (started by the test with kVictimSteps steps) where a session is named.
  static std::vector<Case> StepCases() {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<Case> cases;
    auto add = [&](std::string name, v1::StepRequest r, grpc::StatusCode code,
                   std::string message) {
      cases.push_back({std::move(name), std::move(r), code, std::move(message)});
    };
    const grpc::StatusCode kInvalid = grpc::StatusCode::INVALID_ARGUMENT;

    // Non-finite values, on the running session and on a start that would
    // reset it: nothing may be applied.
    v1::StepRequest r = Good("victim", kVictimSteps);
    r.mutable_floats()->set_values(1, nan);
    add("nan", r, kInvalid, "step 0, feature 1 is nan; inputs must be finite");
    r = Good("victim", kVictimSteps);
    r.mutable_floats()->set_values(0, inf);
    add("inf", r, kInvalid, "is inf; inputs must be finite");
    r = Good("victim", kVictimSteps, 1, /*start=*/true);
    r.mutable_floats()->set_values(2, -inf);
    add("minus_inf_on_a_start", r, kInvalid, "is -inf; inputs must be finite");
    r = Good("victim", kVictimSteps, 7);
    r.mutable_floats()->set_values(6 * kWidth + 2, nan);
    add("nan_in_the_last_step_of_a_chunk", r, kInvalid, "step 6, feature 2 is nan");
    r = Good("victim", kVictimSteps);
    r.mutable_floats()->set_values(0, std::numeric_limits<float>::denorm_min());
    r.mutable_floats()->set_values(1, -std::numeric_limits<float>::max());
    r.mutable_floats()->set_values(2, nan);
    add("nan_after_extreme_finite_values", r, kInvalid, "feature 2 is nan");

    // Huge and empty chunks.
    std::vector<int64_t> huge(model::LayerStack::kMaxInputRows + 1, 1);
    add("huge_t_tokens", Tokens("huge-tokens", huge), kInvalid,
        "carries 1048577 steps; want 1 to 1048576");
    r = Good("victim", kVictimSteps);
    r.mutable_floats()->set_steps(std::numeric_limits<int32_t>::max());
    add("huge_t_in_floats_steps", r, kInvalid, "want steps x 3 = 6442450941");
    r = Good("victim", kVictimSteps);
    r.clear_floats();
    add("no_input", r, kInvalid, "this model takes floats (floats.values), 3 per step");
    r = Good("victim", kVictimSteps);
    r.mutable_floats()->clear_values();
    add("empty_floats", r, kInvalid, "carries 0 steps; want 1 to 1048576");
    r = Good("victim", kVictimSteps);
    r.mutable_floats()->clear_values();
    r.mutable_floats()->set_steps(1);
    add("empty_floats_with_steps", r, kInvalid, "floats.values has 0 values; want steps x 3");
    add("empty_tokens", Tokens("empty-tokens", {}), kInvalid, "carries 0 steps");

    // Asks for too much (issue 20): refused before any work, nothing applied,
    // on the running session and on a start that would reset it.
    add("answer_past_the_message_limit", Ones("victim", kAnswerPastLimit), kInvalid,
        "nothing was computed or applied: send at most 65536 steps per request to model "
        "lstm, or ask for OUTPUT_MODE_LAST_STEP");
    r = Ones("victim", kAnswerPastLimit);
    r.set_start(true);
    add("answer_past_the_message_limit_on_a_start", r, kInvalid, "would be 4320");
    r = Ones("victim", kDerivedMaxSteps + 1);
    r.set_output_mode(v1::OUTPUT_MODE_LAST_STEP);
    add("steps_past_the_cap_with_the_last_output_only", r, kInvalid,
        "carries 65537 steps; this server takes at most 65536 per request "
        "(--max_steps_per_request)");
    r = Tokens("too-much-charlm", std::vector<int64_t>(100'000, 1));
    add("charlm_answer_past_the_message_limit", r, kInvalid, "to model charlm");

    // The wrong kind of input, or a shape that is not whole steps.
    r = Good("victim", kVictimSteps);
    r.mutable_tokens()->add_ids(1);
    add("tokens_to_a_float_model", r, kInvalid, "this model takes floats");
    r = Tokens("floats-to-charlm", {1});
    r.mutable_floats()->add_values(1.0f);
    add("floats_to_a_token_model", r, kInvalid, "this model takes token ids");
    r = Good("victim", kVictimSteps);
    r.mutable_floats()->add_values(0.5f);
    add("not_whole_steps", r, kInvalid, "floats.values has 4 values; want steps x 3");
    r = Good("victim", kVictimSteps, 1);
    r.mutable_floats()->set_steps(2);
    add("steps_disagree_with_values", r, kInvalid, "has 3 values; want steps x 3 = 6");
    r = Good("victim", kVictimSteps, 1);
    r.mutable_floats()->set_steps(-1);
    add("negative_steps", r, kInvalid, "floats.steps is -1");
    add("token_past_the_vocabulary", Tokens("token-11", {1, kVocabulary}), kInvalid,
        "step 1: token id 11 is outside the vocabulary [0, 11)");
    add("negative_token", Tokens("token-minus-1", {-1}), kInvalid, "token id -1 is outside");
    add("int64_min_token", Tokens("token-min", {std::numeric_limits<int64_t>::min()}), kInvalid,
        "is outside the vocabulary");
    add("int64_max_token", Tokens("token-max", {std::numeric_limits<int64_t>::max()}), kInvalid,
        "is outside the vocabulary");

    // An output mode this server does not know (proto3 enums are open).
    r = Good("victim", kVictimSteps);
    r.set_output_mode(static_cast<v1::OutputMode>(7));
    add("unknown_output_mode", r, kInvalid, "output_mode 7");

    // Models and versions.
    r = Good("victim", kVictimSteps, 1, /*start=*/true);
    r.mutable_model()->set_name("nope");
    add("unknown_model_on_a_start", r, grpc::StatusCode::NOT_FOUND, "model \"nope\" is not served");
    r = Good("victim", kVictimSteps, 1, /*start=*/true);
    r.mutable_model()->clear_name();
    add("start_without_a_model", r, kInvalid, "a start step names its model");
    r = Good("victim", kVictimSteps, 1, /*start=*/true);
    r.mutable_model()->set_version(-1);
    add("negative_version", r, kInvalid, "model.version is -1");
    r = Good("victim", kVictimSteps, 1, /*start=*/true);
    r.mutable_model()->set_version(std::numeric_limits<int64_t>::max());
    add("int64_max_version", r, kInvalid, "model.version is 9223372036854775807");
    r = Good("victim", kVictimSteps, 1, /*start=*/true);
    r.mutable_model()->set_version(99);
    add("unknown_version", r, grpc::StatusCode::NOT_FOUND, "version 99");
    r = Good("victim", kVictimSteps);
    r.mutable_model()->set_name("charlm");
    add("another_model_than_the_sessions", r, grpc::StatusCode::FAILED_PRECONDITION,
        "session victim runs model lstm version 1, not charlm");
    add("unknown_session", Good("never-started", 0), grpc::StatusCode::NOT_FOUND,
        "send start=true");

    // Session ids: counted in bytes, 1 to 256.
    add("empty_session_id", Good("", 0, 1, true), kInvalid,
        "session id must be 1 to 256 bytes, got 0");
    add("session_id_of_257_bytes", Good(std::string(257, 'x'), 0, 1, true), kInvalid, "got 257");
    add("session_id_of_1_mib", Good(std::string(1 << 20, 'x'), 0, 1, true), kInvalid,
        "got 1048576");
    std::string emoji;
    for (int i = 0; i < 65; ++i) emoji += "\xF0\x9F\x98\x80";  // U+1F600, 4 bytes
    add("session_id_of_65_four_byte_characters", Good(emoji, 0, 1, true), kInvalid, "got 260");
    return cases;
  }

  static constexpr int64_t kVictimSteps = 5;
  static std::string* root_;
  static ReferenceSequence* sequence_;
  std::unique_ptr<RnnServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::InferenceService::Stub> stub_;
  int64_t witness_steps_ = 0;
};

std::string* BadInputTest::root_ = nullptr;
ReferenceSequence* BadInputTest::sequence_ = nullptr;

TEST_F(BadInputTest, EachBadStepGetsItsCodeOnTheUnaryCallAndTouchesNoSession) {
  v1::StepResponse response;
  ASSERT_TRUE(Step(Good("victim", 0, kVictimSteps, true), &response).ok());
  const int64_t sessions = server_->sessions().size();  // victim
  for (const Case& c : StepCases()) {
    SCOPED_TRACE(c.name);
    v1::StepResponse bad;
    const grpc::Status status = Step(c.request, &bad);
    EXPECT_EQ(status.error_code(), c.code) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.message));
    ASSERT_NO_FATAL_FAILURE(StepWitness());
  }
  // No bad start created a session (the witness is the one more).
  EXPECT_EQ(server_->sessions().size(), sessions + 1);
  // The victim goes on from where it was, as if nothing had been sent.
  ASSERT_TRUE(Step(Good("victim", kVictimSteps, 2), &response).ok());
  EXPECT_EQ(response.session_steps(), kVictimSteps + 2);
  ExpectReference(response, kVictimSteps);
}

TEST_F(BadInputTest, EachBadStepGetsItsCodeOnAStreamThatGoesOn) {
  v1::StepResponse response;
  ASSERT_TRUE(Step(Good("victim", 0, kVictimSteps, true), &response).ok());
  grpc::ClientContext context;
  auto stream = stub_->StreamSteps(&context);
  int64_t t = 0;  // the witness steps on the same stream here
  for (const Case& c : StepCases()) {
    SCOPED_TRACE(c.name);
    v1::StepRequest bad = c.request;
    bad.set_request_id(c.name);
    ASSERT_TRUE(stream->Write(bad));
    ASSERT_TRUE(stream->Read(&response));
    ASSERT_TRUE(response.has_error());
    EXPECT_EQ(response.request_id(), c.name);
    EXPECT_EQ(response.error().code(), c.code) << response.error().message();
    EXPECT_THAT(response.error().message(), HasSubstr(c.message));
    EXPECT_EQ(response.outputs().values_size(), 0);
    ASSERT_TRUE(stream->Write(Good("witness", t, 1, t == 0)));
    ASSERT_TRUE(stream->Read(&response));
    ASSERT_FALSE(response.has_error()) << response.error().message();
    EXPECT_EQ(response.session_steps(), t + 1);
    ASSERT_NO_FATAL_FAILURE(ExpectReference(response, t));
    ++t;
  }
  ASSERT_TRUE(stream->Write(Good("victim", kVictimSteps, 2)));
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_FALSE(response.has_error()) << response.error().message();
  EXPECT_EQ(response.session_steps(), kVictimSteps + 2);
  ExpectReference(response, kVictimSteps);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(BadInputTest, EachBadSequenceGetsItsCode) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto sequence = [&](int64_t steps) {
    v1::SequenceRequest request;
    request.mutable_model()->set_name("lstm");
    request.mutable_floats()->mutable_values()->Assign(
        sequence_->input.floats.begin(), sequence_->input.floats.begin() + steps * kWidth);
    return request;
  };
  struct SequenceCase {
    std::string name;
    v1::SequenceRequest request;
    std::string message;
  };
  std::vector<SequenceCase> cases;
  v1::SequenceRequest r = sequence(7);
  r.mutable_floats()->set_values(20, nan);
  cases.push_back({"nan", r, "step 6, feature 2 is nan"});
  r = sequence(7);
  r.mutable_floats()->set_values(0, -std::numeric_limits<float>::infinity());
  cases.push_back({"minus_inf", r, "is -inf"});
  r = sequence(0);
  cases.push_back({"empty", r, "carries 0 steps"});
  r.clear_floats();
  cases.push_back({"no_input", r, "this model takes floats"});
  r = sequence(7);
  r.mutable_floats()->set_steps(std::numeric_limits<int32_t>::max());
  cases.push_back({"huge_t_in_floats_steps", r, "want steps x 3 = 6442450941"});
  r = sequence(7);
  r.mutable_floats()->set_steps(-7);
  cases.push_back({"negative_steps", r, "floats.steps is -7"});
  r = sequence(7);
  r.mutable_floats()->add_values(1.0f);
  cases.push_back({"not_whole_steps", r, "floats.values has 22 values; want steps x 3"});
  r = sequence(7);
  r.set_output_mode(static_cast<v1::OutputMode>(-1));
  cases.push_back({"unknown_output_mode", r, "output_mode -1"});
  r = sequence(7);
  r.clear_floats();
  r.mutable_model()->set_name("charlm");
  r.mutable_tokens()->mutable_ids()->Resize(model::LayerStack::kMaxInputRows + 1, 3);
  cases.push_back({"huge_t_tokens", r, "carries 1048577 steps; want 1 to 1048576"});
  r.mutable_tokens()->mutable_ids()->Resize(3, 3);
  r.mutable_tokens()->set_ids(2, kVocabulary);
  cases.push_back({"token_past_the_vocabulary", r, "token id 11 is outside"});
  r = sequence(0);
  r.mutable_floats()->mutable_values()->Resize(kAnswerPastLimit * kWidth, 0.5f);
  cases.push_back(
      {"answer_past_the_message_limit", r, "send at most 65536 steps per request to model lstm"});
  r.mutable_floats()->mutable_values()->Resize((kDerivedMaxSteps + 1) * kWidth, 0.5f);
  r.set_output_mode(v1::OUTPUT_MODE_LAST_STEP);
  cases.push_back({"steps_past_the_cap_with_the_last_output_only", r,
                   "at most 65536 per request (--max_steps_per_request)"});
  for (const SequenceCase& c : cases) {
    SCOPED_TRACE(c.name);
    grpc::ClientContext context;
    v1::SequenceResponse response;
    const grpc::Status status = stub_->RunSequence(&context, c.request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.message));
    ASSERT_NO_FATAL_FAILURE(StepWitness());
  }
}

// Ids are opaque bytes: control characters, NUL, path and format syntax and
// 256 bytes of 4-byte characters are each their own session, and one that is
// a prefix of another (up to a NUL) is not the same session.
TEST_F(BadInputTest, OddButValidSessionIdsAreTheirOwnSessions) {
  std::string emoji;
  for (int i = 0; i < 64; ++i) emoji += "\xF0\x9F\x98\x80";
  const std::vector<std::string> ids = {"a",
                                        std::string("a\0b", 3),
                                        std::string(1, '\0'),
                                        std::string(256, '\0'),
                                        "\n\r\t\x7f",
                                        "../../etc/passwd",
                                        "%s%n%x",
                                        "\xE2\x80\xAE"
                                        "evil",
                                        " ",
                                        emoji,
                                        std::string(256, 'x')};
  v1::StepResponse response;
  // Each id takes a different number of steps, so a mix-up shows in session_steps.
  for (size_t i = 0; i < ids.size(); ++i) {
    for (size_t k = 0; k <= i; ++k) {
      const grpc::Status status = Step(Good(ids[i], k, 1, k == 0), &response);
      ASSERT_TRUE(status.ok()) << i << ": " << status.error_message();
      EXPECT_EQ(response.session_id(), ids[i]);
      ASSERT_NO_FATAL_FAILURE(ExpectReference(response, k));
    }
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_TRUE(Step(Good(ids[i], i + 1, 1), &response).ok()) << i;
    EXPECT_EQ(response.session_steps(), static_cast<int64_t>(i) + 2) << i;
    ExpectReference(response, i + 1);
  }
  EXPECT_EQ(server_->sessions().size(), static_cast<int64_t>(ids.size()));
}

// A session id (or request id, or model name) that is not UTF-8: the C++
// client serializes it (logging an error), but it is not a valid proto3
// string, so the message does not parse. INVALID_ARGUMENT, and a stream
// goes on (gRPC by itself would answer UNIMPLEMENTED, or end the stream OK
// with the request unanswered: server/raw_message.h).
TEST_F(BadInputTest, StringsThatAreNotUtf8AreInvalidArgumentAndTouchNoSession) {
  const std::string not_utf8("\xff\xfe\xc3\x28", 4);
  std::vector<v1::StepRequest> requests(3, Good("utf8", 0, 1, true));
  requests[0].set_session_id(not_utf8);
  requests[1].set_request_id(not_utf8);
  requests[2].mutable_model()->set_name(not_utf8);
  v1::StepResponse response;
  for (const v1::StepRequest& request : requests) {
    const grpc::Status unary = Step(request, &response);
    EXPECT_EQ(unary.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << unary.error_message();
    EXPECT_THAT(unary.error_message(), HasSubstr("not a valid rnnserve.v1.StepRequest"));
  }
  grpc::ClientContext context;
  auto stream = stub_->StreamSteps(&context);
  int64_t t = 0;
  for (const v1::StepRequest& request : requests) {
    ASSERT_TRUE(stream->Write(request));
    ASSERT_TRUE(stream->Read(&response));
    ASSERT_TRUE(response.has_error());
    EXPECT_EQ(response.error().code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(response.error().message(), HasSubstr("not a valid rnnserve.v1.StepRequest"));
    ASSERT_TRUE(stream->Write(Good("witness", t, 1, t == 0)));
    ASSERT_TRUE(stream->Read(&response));
    ASSERT_FALSE(response.has_error()) << response.error().message();
    ASSERT_NO_FATAL_FAILURE(ExpectReference(response, t++));
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  v1::SequenceRequest sequence;
  sequence.mutable_model()->set_name(not_utf8);
  sequence.mutable_floats()->add_values(1.0f);
  grpc::ClientContext sequence_context;
  v1::SequenceResponse sequence_response;
  EXPECT_EQ(stub_->RunSequence(&sequence_context, sequence, &sequence_response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(server_->sessions().size(), 1);  // the witness
}

// Bytes that are no protobuf message at all, on each InferenceService method:
// INVALID_ARGUMENT with the reason; a stream answers each with an error and
// goes on.
TEST_F(BadInputTest, MalformedBytesAreInvalidArgumentAndAStreamGoesOn) {
  const std::vector<std::string> garbage = {
      std::string("\x0a\xff\xff\xff\xff\x0f", 6),  // a field longer than the message
      std::string("\x00", 1),                      // field number 0
      std::string("\x0f\x01", 2),                  // wire type 7 does not exist
      std::string("\x1a\x05\x0a\x03\x01", 5),      // floats cut short inside
      std::string("\x0a", 1),                      // a tag and nothing after it
  };
  for (const std::string& bytes : garbage) {
    for (const char* method : {"Step", "RunSequence"}) {
      const RawReply reply =
          RawUnaryCall(channel_, absl::StrCat("/rnnserve.v1.InferenceService/", method), bytes);
      EXPECT_EQ(reply.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << method;
      EXPECT_THAT(reply.status.error_message(), HasSubstr("is not a valid rnnserve.v1."));
    }
  }
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>> stream(
      grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
          channel_.get(),
          grpc::internal::RpcMethod("/rnnserve.v1.InferenceService/StreamSteps",
                                    grpc::internal::RpcMethod::BIDI_STREAMING, channel_),
          &context));
  auto exchange = [&](const std::string& bytes) {
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1), reply;
    v1::StepResponse response;
    std::vector<grpc::Slice> slices;
    std::string body;
    if (stream->Write(request) && stream->Read(&reply) && reply.Dump(&slices).ok()) {
      for (const grpc::Slice& s : slices) body.append(s.begin(), s.end());
      response.ParseFromString(body);
    }
    return response;
  };
  int64_t t = 0;
  for (const std::string& bytes : garbage) {
    const v1::StepResponse bad = exchange(bytes);
    ASSERT_TRUE(bad.has_error());
    EXPECT_EQ(bad.error().code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(bad.error().message(), HasSubstr("not a valid rnnserve.v1.StepRequest"));
    std::string good;
    ASSERT_TRUE(Good("witness", t, 1, t == 0).SerializeToString(&good));
    const v1::StepResponse answer = exchange(good);
    ASSERT_FALSE(answer.has_error()) << answer.error().message();
    EXPECT_EQ(answer.session_steps(), t + 1);
    ASSERT_NO_FATAL_FAILURE(ExpectReference(answer, t++));
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(server_->sessions().size(), 1);
}

// Unknown fields (a newer client's) are skipped, as protobuf specifies: the
// step is served exactly as without them.
TEST_F(BadInputTest, UnknownFieldsAreIgnored) {
  std::string bytes;
  ASSERT_TRUE(Good("unknown-fields", 0, 3, true).SerializeToString(&bytes));
  // Field 99 varint 1; field 100 length-delimited "junk"; field 101 fixed64.
  bytes += std::string("\x98\x06\x01", 3);
  bytes += std::string("\xa2\x06\x04junk", 7);
  bytes += std::string("\xa9\x06\x01\x02\x03\x04\x05\x06\x07\x08", 10);
  const RawReply reply = RawUnaryCall(channel_, "/rnnserve.v1.InferenceService/Step", bytes);
  ASSERT_TRUE(reply.status.ok()) << reply.status.error_message();
  v1::StepResponse response;
  ASSERT_TRUE(response.ParseFromString(reply.body));
  EXPECT_EQ(response.session_steps(), 3);
  ExpectReference(response, 0);
}

// Past --max_message_bytes gRPC refuses the message before it is parsed: the
// unary call, or the whole stream, fails RESOURCE_EXHAUSTED; other streams
// and sessions go on.
TEST_F(BadInputTest, AnOversizeMessageIsResourceExhaustedAndOtherStreamsGoOn) {
  grpc::ClientContext witness_context;
  auto witness = stub_->StreamSteps(&witness_context);
  v1::StepResponse response;
  ASSERT_TRUE(witness->Write(Good("witness", 0, 1, true)));
  ASSERT_TRUE(witness->Read(&response));
  ASSERT_FALSE(response.has_error());

  v1::StepRequest oversize = Good("oversize", 0, 1, true);
  oversize.mutable_floats()->mutable_values()->Resize(kMaxMessageBytes / 4 + kWidth, 0.5f);
  EXPECT_EQ(Step(oversize, &response).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  {
    grpc::ClientContext context;
    auto stream = stub_->StreamSteps(&context);
    stream->Write(oversize);
    EXPECT_FALSE(stream->Read(&response));
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  ASSERT_TRUE(witness->Write(Good("witness", 1, 1)));
  ASSERT_TRUE(witness->Read(&response));
  ASSERT_FALSE(response.has_error()) << response.error().message();
  EXPECT_EQ(response.session_steps(), 2);
  ExpectReference(response, 1);
  witness->WritesDone();
  EXPECT_TRUE(witness->Finish().ok());
  EXPECT_EQ(server_->sessions().size(), 1);
}

}  // namespace
}  // namespace rnnserve::server
