// TLS, mutual TLS and the bearer token, with certificates made in the test by
// openssl: who gets in, who gets UNAUTHENTICATED or no connection at all,
// and that health stays open for probes.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "inference/grpc_service.grpc.pb.h"
#include "rnnserve/v1/inference.grpc.pb.h"
#include "rnnserve/v1/models.grpc.pb.h"
#include "rnnserve/v1/sessions.grpc.pb.h"
#include "server/rnn_server.h"
#include "tests/common/test_certificates.h"
#include "tests/model/test_util.h"
#include "tests/server/metric_value.h"
#include "tests/server/raw_call.h"
#include "util/file.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::MakeTestRepository;
using ::rnnserve::testing::Certificates;

class SecurityTest : public ::testing::Test {
 protected:
  void Start(const SecurityOptions& security) {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.models = MakeTestRepository(
        std::string("security_") + ::testing::UnitTest::GetInstance()->current_test_info()->name(),
        {{"gru_2layer", "gru/1"}});
    options.security = security;
    absl::StatusOr<std::unique_ptr<RnnServer>> server = RnnServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  std::string Address() const { return absl::StrCat("127.0.0.1:", server_->port()); }

  // ListModels over `channel`, with `token` as a bearer token if not empty.
  grpc::Status ListModels(const std::shared_ptr<grpc::Channel>& channel,
                          const std::string& token = "") {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    v1::ListModelsResponse response;
    return v1::ModelService::NewStub(channel)->ListModels(&context, {}, &response);
  }

  std::shared_ptr<grpc::Channel> TlsChannel(const std::string& client = "") {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = certs_.Pem("ca.pem");
    if (!client.empty()) {
      ssl.pem_private_key = certs_.Pem(client + ".key");
      ssl.pem_cert_chain = certs_.Pem(client + ".pem");
    }
    return grpc::CreateChannel(Address(), grpc::SslCredentials(ssl));
  }

  std::string TokenFile(const std::string& token) {
    const std::string path = certs_.Path("token");
    std::ofstream(path) << token << "\n";  // the trailing newline is not part of it
    return path;
  }

  Certificates certs_;
  std::unique_ptr<RnnServer> server_;
};

TEST_F(SecurityTest, BearerTokenGuardsEveryRpcButHealth) {
  Start({.token_file = TokenFile("s3cret-token")});
  auto channel = grpc::CreateChannel(Address(), grpc::InsecureChannelCredentials());
  const grpc::Status none = ListModels(channel);
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(none.error_message(), ::testing::HasSubstr("Bearer"));
  EXPECT_EQ(ListModels(channel, "s3cret-tokeN").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ListModels(channel, "s3cret-token-and-more").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(ListModels(channel, "s3cret-token").ok());
  // Health is open to token-less probes.
  EXPECT_EQ(RawUnaryCall(channel, "/grpc.health.v1.Health/Check", "").body,
            std::string("\x08\x01", 2));
}

// Every rnnserve method, called with `token` as a bearer token if not empty,
// on the session "guarded" (which a call with the right token created).
struct GuardedCalls {
  explicit GuardedCalls(const std::shared_ptr<grpc::Channel>& channel)
      : inference(v1::InferenceService::NewStub(channel)),
        sessions(v1::SessionService::NewStub(channel)),
        models(v1::ModelService::NewStub(channel)),
        v2(inference::GRPCInferenceService::NewStub(channel)) {}

  static void Authorize(grpc::ClientContext& context, const std::string& token) {
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  }
  static v1::StepRequest OneStep() {
    v1::StepRequest request;
    request.set_session_id("guarded");
    request.set_start(true);
    request.mutable_model()->set_name("gru");
    for (float x : {0.1f, 0.2f, 0.3f}) request.mutable_floats()->add_values(x);  // input_size 3
    return request;
  }
  // A step of the guarded session through the Open Inference Protocol.
  static inference::ModelInferRequest V2Step() {
    inference::ModelInferRequest request;
    request.set_model_name("gru");
    (*request.mutable_parameters())["sequence_id"].set_string_param("guarded");
    auto* input = request.add_inputs();
    input->set_name("input");
    input->set_datatype("FP32");
    input->add_shape(1);
    input->add_shape(3);
    for (float x : {0.1f, 0.2f, 0.3f}) input->mutable_contents()->add_fp32_contents(x);
    return request;
  }
  static v1::SessionRef Guarded() {
    v1::SessionRef ref;
    ref.set_session_id("guarded");
    return ref;
  }

  // method name (as rnnserve_requests_total labels it) -> the call.
  std::vector<std::pair<std::string, std::function<grpc::Status(const std::string&)>>> All() {
    using Call = std::function<grpc::Status(const std::string&)>;
    const auto unary = [](auto stub_call) -> Call {
      return [stub_call](const std::string& token) {
        grpc::ClientContext context;
        Authorize(context, token);
        return stub_call(context);
      };
    };
    return {
        {"Step", unary([this](grpc::ClientContext& c) {
           v1::StepResponse response;
           return inference->Step(&c, OneStep(), &response);
         })},
        {"StreamSteps",
         [this](const std::string& token) {
           grpc::ClientContext context;
           Authorize(context, token);
           auto stream = inference->StreamSteps(&context);
           v1::StepResponse response;
           if (stream->Write(OneStep()) && stream->Read(&response) && response.has_error()) {
             return grpc::Status(static_cast<grpc::StatusCode>(response.error().code()),
                                 response.error().message());
           }
           stream->WritesDone();
           return stream->Finish();
         }},
        {"RunSequence", unary([this](grpc::ClientContext& c) {
           v1::SequenceRequest request;
           request.mutable_model()->set_name("gru");
           *request.mutable_floats() = OneStep().floats();
           v1::SequenceResponse response;
           return inference->RunSequence(&c, request, &response);
         })},
        // The Open Inference Protocol: the same token, and its steps continue
        // the session the native Step started.
        {"ServerLive", unary([this](grpc::ClientContext& c) {
           inference::ServerLiveResponse response;
           return v2->ServerLive(&c, {}, &response);
         })},
        {"ServerReady", unary([this](grpc::ClientContext& c) {
           inference::ServerReadyResponse response;
           return v2->ServerReady(&c, {}, &response);
         })},
        {"ModelReady", unary([this](grpc::ClientContext& c) {
           inference::ModelReadyRequest request;
           request.set_name("gru");
           inference::ModelReadyResponse response;
           return v2->ModelReady(&c, request, &response);
         })},
        {"ServerMetadata", unary([this](grpc::ClientContext& c) {
           inference::ServerMetadataResponse response;
           return v2->ServerMetadata(&c, {}, &response);
         })},
        {"ModelMetadata", unary([this](grpc::ClientContext& c) {
           inference::ModelMetadataRequest request;
           request.set_name("gru");
           inference::ModelMetadataResponse response;
           return v2->ModelMetadata(&c, request, &response);
         })},
        {"ModelInfer", unary([this](grpc::ClientContext& c) {
           inference::ModelInferResponse response;
           return v2->ModelInfer(&c, V2Step(), &response);
         })},
        {"ModelStreamInfer",
         [this](const std::string& token) {
           grpc::ClientContext context;
           Authorize(context, token);
           auto stream = v2->ModelStreamInfer(&context);
           inference::ModelStreamInferResponse response;
           if (stream->Write(V2Step()) && stream->Read(&response) &&
               !response.error_message().empty()) {
             return grpc::Status(grpc::StatusCode::UNKNOWN, response.error_message());
           }
           stream->WritesDone();
           return stream->Finish();
         }},
        {"DescribeSession", unary([this](grpc::ClientContext& c) {
           v1::SessionInfo info;
           return sessions->DescribeSession(&c, Guarded(), &info);
         })},
        {"ExportState", unary([this](grpc::ClientContext& c) {
           return sessions->ExportState(&c, Guarded(), &exported);
         })},
        {"ImportState", unary([this](grpc::ClientContext& c) {
           v1::SessionInfo info;
           return sessions->ImportState(&c, exported, &info);
         })},
        {"ResetSession", unary([this](grpc::ClientContext& c) {
           v1::SessionInfo info;
           return sessions->ResetSession(&c, Guarded(), &info);
         })},
        {"EndSession", unary([this](grpc::ClientContext& c) {
           v1::SessionInfo info;
           return sessions->EndSession(&c, Guarded(), &info);
         })},
        {"ListModels", unary([this](grpc::ClientContext& c) {
           v1::ListModelsResponse response;
           return models->ListModels(&c, {}, &response);
         })},
        {"DescribeModel", unary([this](grpc::ClientContext& c) {
           v1::ModelRef ref;
           ref.set_name("gru");
           v1::ModelInfo info;
           return models->DescribeModel(&c, ref, &info);
         })},
    };
  }

  std::unique_ptr<v1::InferenceService::Stub> inference;
  std::unique_ptr<v1::SessionService::Stub> sessions;
  std::unique_ptr<v1::ModelService::Stub> models;
  std::unique_ptr<inference::GRPCInferenceService::Stub> v2;
  v1::SessionState exported;  // ExportState's answer, ImportState's request
};

TEST_F(SecurityTest, EveryMethodRefusesAMissingOrWrongTokenAndCountsTheRefusal) {
  Start({.token_file = TokenFile("s3cret-token")});
  GuardedCalls calls(grpc::CreateChannel(Address(), grpc::InsecureChannelCredentials()));
  // In the order of All(): each call with the right token needs the ones
  // before it (the session exists, its state was exported).
  for (const auto& [method, call] : calls.All()) {
    const grpc::Status none = call("");
    EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED) << method;
    EXPECT_EQ(call("s3cret-tokeN").error_code(), grpc::StatusCode::UNAUTHENTICATED) << method;
    const grpc::Status right = call("s3cret-token");
    EXPECT_TRUE(right.ok()) << method << ": " << right.error_message();
    // The protocol too: the REST front end counts the same method names
    // under protocol="inference-http".
    const std::string protocol =
        absl::StrContains(
            " ServerLive ServerReady ModelReady ServerMetadata ModelMetadata "
            "ModelInfer ModelStreamInfer ",
            absl::StrCat(" ", method, " "))
            ? "inference"
            : "rnnserve.v1";
    EXPECT_EQ(
        MetricValue(*server_->registry(), "rnnserve_requests_total",
                    {{"protocol", protocol}, {"method", method}, {"code", "UNAUTHENTICATED"}}),
        2)
        << method;
    EXPECT_EQ(MetricValue(*server_->registry(), "rnnserve_requests_total",
                          {{"protocol", protocol}, {"method", method}, {"code", "OK"}}),
              1)
        << method;
  }
  // Nothing the refused calls asked for happened: the right-token EndSession
  // ended the session the right-token Step made, and nothing else exists.
  EXPECT_EQ(server_->sessions().size(), 0);
}

TEST_F(SecurityTest, TlsServesTlsClientsOnly) {
  Start({.tls_cert = certs_.Path("server.pem"), .tls_key = certs_.Path("server.key")});
  EXPECT_TRUE(ListModels(TlsChannel()).ok());
  const grpc::Status plaintext =
      ListModels(grpc::CreateChannel(Address(), grpc::InsecureChannelCredentials()));
  EXPECT_EQ(plaintext.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(SecurityTest, MutualTlsAdmitsOnlyClientsTheCaSigned) {
  Start({.tls_cert = certs_.Path("server.pem"),
         .tls_key = certs_.Path("server.key"),
         .tls_client_ca = certs_.Path("ca.pem"),
         .token_file = TokenFile("t")});
  EXPECT_TRUE(ListModels(TlsChannel("client"), "t").ok());
  EXPECT_EQ(ListModels(TlsChannel("client")).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ListModels(TlsChannel(), "t").error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ListModels(TlsChannel("stranger"), "t").error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(SecurityTest, IncompleteOrUnreadableSettingsRefuseToStart) {
  const auto start = [&](const SecurityOptions& security) {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.models = MakeTestRepository("security_refused", {{"gru_2layer", "gru/1"}});
    options.security = security;
    return RnnServer::Start(options).status();
  };
  EXPECT_TRUE(absl::IsInvalidArgument(start({.tls_key = certs_.Path("server.key")})));
  EXPECT_TRUE(absl::IsInvalidArgument(start({.tls_client_ca = certs_.Path("ca.pem")})));
  EXPECT_TRUE(absl::IsNotFound(start({.token_file = certs_.Path("no-such-token")})));
  EXPECT_TRUE(absl::IsInvalidArgument(start({.token_file = TokenFile("  ")})));
}

}  // namespace
}  // namespace rnnserve::server
