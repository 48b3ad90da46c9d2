// inference.GRPCInferenceService end to end: a real RnnServer on
// 127.0.0.1:<free port> with the lstm (FP32) and charlm (token) fixtures,
// called through stubs generated from proto/inference/grpc_service.proto, as
// a Triton client would. Outputs equal the native API's on the same inputs
// (1e-6) and the PyTorch reference (1e-5), step by step and in chunks, with
// uint64 and string sequence ids; a session continues across protocols; bad
// requests get their code and message and leave a witness session as it was.
// (The mapping alone: v2_infer_request_test.cc.)
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "inference/grpc_service.grpc.pb.h"
#include "rnnserve/v1/inference.grpc.pb.h"
#include "rnnserve/v1/sessions.grpc.pb.h"
#include "server/rnn_server.h"
#include "tests/model/test_util.h"
#include "tests/server/metric_value.h"
#include "tests/server/raw_call.h"
#include "tests/server/v2_test_base.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::OutputRowsNear;
using ::rnnserve::model::testing::ReferenceSequence;
using ::testing::HasSubstr;
using V2Stub = inference::GRPCInferenceService::Stub;
using V2Stream =
    grpc::ClientReaderWriter<inference::ModelInferRequest, inference::ModelStreamInferResponse>;

// Which form a request's sequence_id takes.
struct SequenceId {
  enum class Kind { kUint64, kInt64, kString, kNone } kind = Kind::kNone;
  uint64_t number = 0;
  std::string text;
  // The native session id it names.
  std::string session() const { return kind == Kind::kString ? text : absl::StrCat(number); }
};

SequenceId Uint64Id(uint64_t n) { return {SequenceId::Kind::kUint64, n, ""}; }
SequenceId Int64Id(uint64_t n) { return {SequenceId::Kind::kInt64, n, ""}; }
SequenceId StringId(std::string s) { return {SequenceId::Kind::kString, 0, std::move(s)}; }

class V2GrpcServiceTest : public V2TestBase {
 protected:
  static void SetUpTestSuite() { LoadFixtures("v2_grpc"); }

  void SetUp() override {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.models = *root_;
    options.batcher.workers = 2;
    StartServer(options);
    v2_ = inference::GRPCInferenceService::NewStub(channel_);
    ASSERT_GE(seq().steps(), 6);
  }

  // Steps [first, first + count) of seq() as a v2 request for lstm.
  static inference::ModelInferRequest V2Steps(const SequenceId& id, int64_t first, int64_t count,
                                              bool start, bool end, bool raw = false) {
    inference::ModelInferRequest request;
    request.set_model_name("lstm");
    request.set_id(absl::StrCat("v2:", first));
    auto& parameters = *request.mutable_parameters();
    switch (id.kind) {
      case SequenceId::Kind::kUint64:
        parameters["sequence_id"].set_uint64_param(id.number);
        break;
      case SequenceId::Kind::kInt64:
        parameters["sequence_id"].set_int64_param(static_cast<int64_t>(id.number));
        break;
      case SequenceId::Kind::kString:
        parameters["sequence_id"].set_string_param(id.text);
        break;
      case SequenceId::Kind::kNone:
        break;
    }
    if (id.kind != SequenceId::Kind::kNone) {
      parameters["sequence_start"].set_bool_param(start);
      parameters["sequence_end"].set_bool_param(end);
    }
    auto* input = request.add_inputs();
    input->set_name("input");
    input->set_datatype("FP32");
    input->add_shape(count);
    input->add_shape(InWidth());
    const float* values = seq().input.floats.data() + first * InWidth();
    if (raw) {
      request.add_raw_input_contents()->assign(reinterpret_cast<const char*>(values),
                                               count * InWidth() * sizeof(float));
    } else {
      input->mutable_contents()->mutable_fp32_contents()->Assign(values,
                                                                 values + count * InWidth());
    }
    return request;
  }

  // The output values of a v2 response, typed or raw.
  static std::vector<float> ValuesOf(const inference::ModelInferResponse& response) {
    if (response.raw_output_contents_size() > 0) {
      const std::string& raw = response.raw_output_contents(0);
      std::vector<float> values(raw.size() / sizeof(float));
      std::memcpy(values.data(), raw.data(), values.size() * sizeof(float));
      return values;
    }
    if (response.outputs_size() == 0) return {};
    const auto& typed = response.outputs(0).contents().fp32_contents();
    return {typed.begin(), typed.end()};
  }

  grpc::Status Infer(const inference::ModelInferRequest& request,
                     inference::ModelInferResponse* response) {
    grpc::ClientContext context;
    return v2_->ModelInfer(&context, request, response);
  }

  std::unique_ptr<V2Stub> v2_;
};

TEST_F(V2GrpcServiceTest, HealthAndMetadataDescribeTheModelsAndTheSequenceExtension) {
  {
    grpc::ClientContext context;
    inference::ServerLiveResponse live;
    ASSERT_TRUE(v2_->ServerLive(&context, {}, &live).ok());
    EXPECT_TRUE(live.live());
  }
  {
    grpc::ClientContext context;
    inference::ServerReadyResponse ready;
    ASSERT_TRUE(v2_->ServerReady(&context, {}, &ready).ok());
    EXPECT_TRUE(ready.ready());
  }
  for (const auto& [name, version, want] : std::vector<std::tuple<std::string, std::string, bool>>{
           {"lstm", "", true}, {"lstm", "1", true}, {"lstm", "2", false}, {"nope", "", false}}) {
    grpc::ClientContext context;
    inference::ModelReadyRequest request;
    request.set_name(name);
    request.set_version(version);
    inference::ModelReadyResponse ready;
    ASSERT_TRUE(v2_->ModelReady(&context, request, &ready).ok());
    EXPECT_EQ(ready.ready(), want) << name << " " << version;
  }
  {
    grpc::ClientContext context;
    inference::ServerMetadataResponse metadata;
    ASSERT_TRUE(v2_->ServerMetadata(&context, {}, &metadata).ok());
    EXPECT_EQ(metadata.name(), "rnnserve");
    EXPECT_THAT(metadata.extensions(),
                ::testing::IsSupersetOf({"sequence", "sequence(string_id)"}));
  }
  {
    grpc::ClientContext context;
    inference::ModelMetadataRequest request;
    request.set_name("lstm");
    inference::ModelMetadataResponse metadata;
    ASSERT_TRUE(v2_->ModelMetadata(&context, request, &metadata).ok());
    EXPECT_EQ(metadata.name(), "lstm");
    EXPECT_THAT(metadata.versions(), ::testing::ElementsAre("1"));
    ASSERT_EQ(metadata.inputs_size(), 1);
    EXPECT_EQ(metadata.inputs(0).name(), "input");
    EXPECT_EQ(metadata.inputs(0).datatype(), "FP32");
    EXPECT_THAT(metadata.inputs(0).shape(), ::testing::ElementsAre(-1, InWidth()));
    ASSERT_EQ(metadata.outputs_size(), 1);
    EXPECT_EQ(metadata.outputs(0).name(), "output");
    EXPECT_THAT(metadata.outputs(0).shape(), ::testing::ElementsAre(-1, OutWidth()));
    // The precision and bytes DescribeModel gives (fp32 unless asked).
    EXPECT_EQ(metadata.parameters().at("weights").string_param(), "fp32");
    EXPECT_GT(metadata.parameters().at("weight_bytes").int64_param(), 0);
  }
  {
    grpc::ClientContext context;
    inference::ModelMetadataRequest request;
    request.set_name("charlm");
    inference::ModelMetadataResponse metadata;
    ASSERT_TRUE(v2_->ModelMetadata(&context, request, &metadata).ok());
    EXPECT_EQ(metadata.inputs(0).datatype(), "INT64");
    EXPECT_THAT(metadata.inputs(0).shape(), ::testing::ElementsAre(-1));
  }
  {
    grpc::ClientContext context;
    inference::ModelMetadataRequest request;
    request.set_name("nope");
    inference::ModelMetadataResponse metadata;
    const grpc::Status status = v2_->ModelMetadata(&context, request, &metadata);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_THAT(status.error_message(), HasSubstr("nope"));
  }
}

TEST_F(V2GrpcServiceTest, ModelInferStepByStepEqualsTheNativeApiAndTheReference) {
  for (const SequenceId& id : {Uint64Id(1234567890123ULL), Int64Id(77)}) {
    for (int64_t t = 0; t < seq().steps(); ++t) {
      inference::ModelInferResponse response;
      const grpc::Status status = Infer(V2Steps(id, t, 1, t == 0, false), &response);
      ASSERT_TRUE(status.ok()) << t << ": " << status.error_message();
      EXPECT_EQ(response.id(), absl::StrCat("v2:", t));
      EXPECT_EQ(response.model_name(), "lstm");
      EXPECT_EQ(response.model_version(), "1");
      EXPECT_EQ(response.parameters().at("session_steps").int64_param(), t + 1);
      ASSERT_EQ(response.outputs_size(), 1);
      EXPECT_EQ(response.outputs(0).name(), "output");
      EXPECT_EQ(response.outputs(0).datatype(), "FP32");
      EXPECT_THAT(response.outputs(0).shape(), ::testing::ElementsAre(1, OutWidth()));
      const std::vector<float> v2 = ValuesOf(response);
      ASSERT_TRUE(MatchesReference(v2, t)) << "step " << t;
      ExpectNear(v2, NativeSteps("native-" + id.session(), t, 1, t == 0));
    }
    EXPECT_EQ(StepsOf(id.session()), seq().steps());
  }
}

TEST_F(V2GrpcServiceTest, ModelStreamInferInChunksWithAStringIdEqualsTheNativeApi) {
  grpc::ClientContext context;
  std::unique_ptr<V2Stream> stream = v2_->ModelStreamInfer(&context);
  const SequenceId id = StringId("user:alice/1");
  const int64_t chunk = 3;
  for (int64_t first = 0; first < seq().steps(); first += chunk) {
    const int64_t count = std::min(chunk, seq().steps() - first);
    const bool last = first + count == seq().steps();
    // Raw inputs in, raw outputs out, as Triton answers.
    ASSERT_TRUE(stream->Write(V2Steps(id, first, count, first == 0, last, /*raw=*/true)));
    inference::ModelStreamInferResponse response;
    ASSERT_TRUE(stream->Read(&response));
    ASSERT_EQ(response.error_message(), "") << first;
    const inference::ModelInferResponse& infer = response.infer_response();
    EXPECT_EQ(infer.id(), absl::StrCat("v2:", first));
    EXPECT_EQ(infer.raw_output_contents_size(), 1);
    EXPECT_THAT(infer.outputs(0).shape(), ::testing::ElementsAre(count, OutWidth()));
    EXPECT_EQ(infer.parameters().at("session_steps").int64_param(), first + count);
    const std::vector<float> v2 = ValuesOf(infer);
    ASSERT_TRUE(MatchesReference(v2, first)) << "chunk at " << first;
    ExpectNear(v2, NativeSteps("native-chunks", first, count, first == 0));
    // sequence_end ended it after the last chunk.
    EXPECT_EQ(StepsOf(id.session()), last ? -1 : first + count);
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(V2GrpcServiceTest, ASessionContinuesAcrossProtocols) {
  // Started on v2, stepped on the native API, then on v2 again...
  const SequenceId id = Uint64Id(5);
  inference::ModelInferResponse response;
  ASSERT_TRUE(Infer(V2Steps(id, 0, 2, true, false), &response).ok());
  ASSERT_TRUE(MatchesReference(ValuesOf(response), 0));
  ASSERT_TRUE(MatchesReference(NativeSteps(id.session(), 2, 1, false), 2));
  ASSERT_TRUE(Infer(V2Steps(id, 3, 1, false, false), &response).ok());
  ASSERT_TRUE(MatchesReference(ValuesOf(response), 3));
  EXPECT_EQ(response.parameters().at("session_steps").int64_param(), 4);
  // ...and one started natively continues on v2 under its string id.
  ASSERT_TRUE(MatchesReference(NativeSteps("native-first", 0, 1, true), 0));
  ASSERT_TRUE(Infer(V2Steps(StringId("native-first"), 1, 2, false, false), &response).ok());
  ASSERT_TRUE(MatchesReference(ValuesOf(response), 1));
}

TEST_F(V2GrpcServiceTest, WithoutASequenceIdARequestIsAStatelessWholeSequence) {
  inference::ModelInferRequest request = V2Steps({}, 0, seq().steps(), false, false);
  (*request.mutable_parameters())["output_mode"].set_string_param("last_step");
  inference::ModelInferResponse response;
  ASSERT_TRUE(Infer(request, &response).ok());
  EXPECT_FALSE(response.parameters().contains("session_steps"));
  EXPECT_THAT(response.outputs(0).shape(), ::testing::ElementsAre(1, OutWidth()));
  const std::vector<float> v2 = ValuesOf(response);
  ASSERT_TRUE(MatchesReference(v2, seq().steps() - 1));
  // Equal to the native RunSequence.
  v1::SequenceRequest native;
  native.mutable_model()->set_name("lstm");
  native.mutable_floats()->mutable_values()->Assign(seq().input.floats.begin(),
                                                    seq().input.floats.end());
  native.set_output_mode(v1::OUTPUT_MODE_LAST_STEP);
  v1::SequenceResponse native_response;
  grpc::ClientContext context;
  ASSERT_TRUE(native_->RunSequence(&context, native, &native_response).ok());
  ExpectNear(
      v2, {native_response.outputs().values().begin(), native_response.outputs().values().end()});

  // Token ids for charlm, [1, T] INT32, all steps.
  const ReferenceSequence& text = (*charlm_)[1];
  inference::ModelInferRequest tokens;
  tokens.set_model_name("charlm");
  auto* input = tokens.add_inputs();
  input->set_name("input");
  input->set_datatype("INT32");
  input->add_shape(1);
  input->add_shape(text.steps());
  for (const int64_t id : text.input.integers) {
    input->mutable_contents()->add_int_contents(static_cast<int32_t>(id));
  }
  ASSERT_TRUE(Infer(tokens, &response).ok());
  const int64_t width = text.expected.shape[1];
  EXPECT_THAT(response.outputs(0).shape(), ::testing::ElementsAre(1, text.steps(), width));
  const std::vector<float> got = ValuesOf(response);
  ASSERT_EQ(static_cast<int64_t>(got.size()), text.steps() * width);
  EXPECT_TRUE(OutputRowsNear(got.data(), text.expected.floats.data(), text.steps(), width));
}

TEST_F(V2GrpcServiceTest, BadRequestsGetTheirCodeAndMessageAndLeaveAWitnessUnchanged) {
  const SequenceId witness = StringId("witness");
  inference::ModelInferResponse response;
  ASSERT_TRUE(Infer(V2Steps(witness, 0, 1, true, false), &response).ok());

  struct Case {
    const char* what;
    inference::ModelInferRequest request;
    grpc::StatusCode code;
    const char* message;
  };
  std::vector<Case> cases;
  // Each spoils a request that would step the witness.
  const auto next = [&] { return V2Steps(witness, 1, 1, false, false); };
  cases.push_back({"unknown sequence", V2Steps(Uint64Id(999), 1, 1, false, false),
                   grpc::StatusCode::NOT_FOUND, "999"});
  {
    Case c{"unknown model", next(), grpc::StatusCode::NOT_FOUND, "nope"};
    c.request.set_model_name("nope");
    cases.push_back(c);
  }
  {
    Case c{"other model on the session", next(), grpc::StatusCode::FAILED_PRECONDITION,
           "runs model lstm"};
    c.request.set_model_name("charlm");
    c.request.mutable_inputs(0)->set_datatype("INT64");
    c.request.mutable_inputs(0)->clear_shape();
    c.request.mutable_inputs(0)->add_shape(1);
    c.request.mutable_inputs(0)->clear_contents();
    c.request.mutable_inputs(0)->mutable_contents()->add_int64_contents(1);
    cases.push_back(c);
  }
  {
    Case c{"wrong datatype", next(), grpc::StatusCode::INVALID_ARGUMENT, "is INT64"};
    c.request.mutable_inputs(0)->set_datatype("INT64");
    cases.push_back(c);
  }
  {
    Case c{"shape and data disagree", next(), grpc::StatusCode::INVALID_ARGUMENT,
           "values in contents.fp32_contents"};
    c.request.mutable_inputs(0)->set_shape(0, 2);
    cases.push_back(c);
  }
  {
    Case c{"huge shape", next(), grpc::StatusCode::INVALID_ARGUMENT, "steps; want 1 to"};
    c.request.mutable_inputs(0)->set_shape(0, int64_t{1} << 40);
    cases.push_back(c);
  }
  {
    Case c{"raw bytes of the wrong length", V2Steps(witness, 1, 1, false, false, true),
           grpc::StatusCode::INVALID_ARGUMENT, "raw_input_contents[0] has"};
    c.request.mutable_raw_input_contents(0)->pop_back();
    cases.push_back(c);
  }
  {
    Case c{"a NaN", next(), grpc::StatusCode::INVALID_ARGUMENT, "inputs must be finite"};
    c.request.mutable_inputs(0)->mutable_contents()->set_fp32_contents(0, std::nanf(""));
    cases.push_back(c);
  }
  {
    Case c{"unknown output", next(), grpc::StatusCode::INVALID_ARGUMENT, "\"probs\" is unknown"};
    c.request.add_outputs()->set_name("probs");
    cases.push_back(c);
  }
  {
    Case c{"start without a sequence id", V2Steps({}, 0, 1, false, false),
           grpc::StatusCode::INVALID_ARGUMENT, "sequence_start needs a sequence_id"};
    (*c.request.mutable_parameters())["sequence_start"].set_bool_param(true);
    cases.push_back(c);
  }
  {
    Case c{"session id too long", V2Steps(StringId(std::string(300, 'x')), 0, 1, true, false),
           grpc::StatusCode::INVALID_ARGUMENT, "session id must be 1 to"};
    cases.push_back(c);
  }
  for (const Case& c : cases) {
    const grpc::Status status = Infer(c.request, &response);
    EXPECT_EQ(status.error_code(), c.code) << c.what << ": " << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.message)) << c.what;
  }
  // Bytes that are no ModelInferRequest.
  const RawReply garbage =
      RawUnaryCall(channel_, "/inference.GRPCInferenceService/ModelInfer", "\xff\xff\xff");
  EXPECT_EQ(garbage.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(garbage.status.error_message(), HasSubstr("not a valid inference.ModelInferRequest"));
  // A method of the published service rnnserve does not serve.
  EXPECT_EQ(
      RawUnaryCall(channel_, "/inference.GRPCInferenceService/ModelConfig", "").status.error_code(),
      grpc::StatusCode::UNIMPLEMENTED);

  // The witness is where it was, and its next step is right.
  EXPECT_EQ(StepsOf("witness"), 1);
  ASSERT_TRUE(Infer(next(), &response).ok());
  EXPECT_TRUE(MatchesReference(ValuesOf(response), 1));
}

TEST_F(V2GrpcServiceTest, AStreamErrorGoesInErrorMessageAndTheStreamGoesOn) {
  grpc::ClientContext context;
  std::unique_ptr<V2Stream> stream = v2_->ModelStreamInfer(&context);
  const SequenceId id = Uint64Id(31);
  inference::ModelStreamInferResponse response;
  ASSERT_TRUE(stream->Write(V2Steps(id, 0, 1, true, false)));
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_EQ(response.error_message(), "");
  // Unknown sequence, then a bad shape: each answered with its error.
  ASSERT_TRUE(stream->Write(V2Steps(Uint64Id(32), 0, 1, false, false)));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_THAT(response.error_message(), ::testing::StartsWith("NOT_FOUND: "));
  EXPECT_THAT(response.error_message(), HasSubstr("32"));
  EXPECT_THAT(response.error_message(), HasSubstr("sequence_start=true"));
  EXPECT_EQ(response.infer_response().id(), "v2:0");
  inference::ModelInferRequest bad = V2Steps(id, 1, 1, false, false);
  bad.mutable_inputs(0)->set_shape(1, 1);
  ASSERT_TRUE(stream->Write(bad));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_THAT(response.error_message(), ::testing::StartsWith("INVALID_ARGUMENT: "));
  // The stream goes on, and the session was not touched.
  ASSERT_TRUE(stream->Write(V2Steps(id, 1, 1, false, true)));
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_EQ(response.error_message(), "");
  EXPECT_TRUE(MatchesReference(ValuesOf(response.infer_response()), 1));
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(V2GrpcServiceTest, RequestsAreCountedByProtocolMethodAndCode) {
  inference::ModelInferResponse response;
  ASSERT_TRUE(Infer(V2Steps(Uint64Id(8), 0, 1, true, false), &response).ok());
  EXPECT_FALSE(Infer(V2Steps(Uint64Id(9), 0, 1, false, false), &response).ok());
  NativeSteps("native", 0, 1, true);
  prometheus::Registry& registry = *server_->registry();
  EXPECT_EQ(MetricValue(registry, "rnnserve_requests_total",
                        {{"protocol", "inference"}, {"method", "ModelInfer"}, {"code", "OK"}}),
            1);
  EXPECT_EQ(
      MetricValue(registry, "rnnserve_requests_total",
                  {{"protocol", "inference"}, {"method", "ModelInfer"}, {"code", "NOT_FOUND"}}),
      1);
  EXPECT_EQ(MetricValue(registry, "rnnserve_requests_total",
                        {{"protocol", "rnnserve.v1"}, {"method", "Step"}, {"code", "OK"}}),
            1);
  // Registered from the start, so rate() sees the first call.
  EXPECT_EQ(
      MetricValue(registry, "rnnserve_requests_total",
                  {{"protocol", "inference"}, {"method", "ModelStreamInfer"}, {"code", "OK"}}),
      0);
}

// rnnserve's expected_session_steps parameter: a step that does not say
// where the session stands is not applied; the answer says where it does.
TEST_F(V2GrpcServiceTest, AStepExpectingAnotherPositionIsAbortedWithWhereTheSessionStands) {
  const SequenceId id = Uint64Id(44);
  inference::ModelInferResponse response;
  ASSERT_TRUE(Infer(V2Steps(id, 0, 2, true, false), &response).ok());
  inference::ModelInferRequest wrong = V2Steps(id, 2, 1, false, false);
  (*wrong.mutable_parameters())["expected_session_steps"].set_int64_param(5);
  grpc::ClientContext context;
  const grpc::Status status = v2_->ModelInfer(&context, wrong, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED) << status.error_message();
  const auto& trailers = context.GetServerTrailingMetadata();
  const auto stands = trailers.find("rnnserve-session-steps");
  ASSERT_NE(stands, trailers.end());
  EXPECT_EQ(std::string(stands->second.data(), stands->second.size()), "2");
  // On a stream the position comes as the session_steps parameter.
  grpc::ClientContext stream_context;
  std::unique_ptr<V2Stream> stream = v2_->ModelStreamInfer(&stream_context);
  inference::ModelStreamInferResponse streamed;
  ASSERT_TRUE(stream->Write(wrong));
  ASSERT_TRUE(stream->Read(&streamed));
  EXPECT_THAT(streamed.error_message(), ::testing::StartsWith("ABORTED: "));
  EXPECT_EQ(streamed.infer_response().parameters().at("session_steps").int64_param(), 2);
  // The right count is applied.
  (*wrong.mutable_parameters())["expected_session_steps"].set_int64_param(2);
  ASSERT_TRUE(stream->Write(wrong));
  ASSERT_TRUE(stream->Read(&streamed));
  ASSERT_EQ(streamed.error_message(), "");
  EXPECT_TRUE(MatchesReference(ValuesOf(streamed.infer_response()), 2));
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

// The native API's request limits hold for v2 requests too, refused before
// anything is applied.
TEST_F(V2GrpcServiceTest, TheNativeRequestLimitsHold) {
  server_->Shutdown(absl::ZeroDuration());
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.models = *root_;
  options.max_message_bytes = 64 << 10;
  options.admission.max_steps_per_request = 4;
  absl::StatusOr<std::unique_ptr<RnnServer>> limited = RnnServer::Start(options);
  ASSERT_TRUE(limited.ok()) << limited.status();
  server_ = *std::move(limited);
  channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                 grpc::InsecureChannelCredentials());
  v2_ = inference::GRPCInferenceService::NewStub(channel_);
  sessions_ = v1::SessionService::NewStub(channel_);
  const SequenceId witness = Uint64Id(3);
  inference::ModelInferResponse response;
  ASSERT_TRUE(Infer(V2Steps(witness, 0, 1, true, false), &response).ok());

  grpc::Status status = Infer(V2Steps(witness, 1, 5, false, false), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("at most 4 per request"));
  // A body past --max_message_bytes: gRPC refuses it before we see it.
  inference::ModelInferRequest huge = V2Steps(witness, 1, 1, false, false);
  huge.set_id(std::string(80 << 10, 'x'));
  status = Infer(huge, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(StepsOf(witness.session()), 1);
  ASSERT_TRUE(Infer(V2Steps(witness, 1, 4, false, false), &response).ok());
  EXPECT_TRUE(MatchesReference(ValuesOf(response), 1));
}

}  // namespace
}  // namespace rnnserve::server
