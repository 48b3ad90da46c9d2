// TLS, mutual TLS and the bearer token, with certificates made in the test by
// openssl: who gets in, who gets UNAUTHENTICATED or no connection at all,
// and that health stays open for probes.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "model/file_util.h"
#include "rnnserve/v1/models.grpc.pb.h"
#include "server/rnn_server.h"
#include "tests/model/test_util.h"
#include "tests/server/raw_call.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::MakeTestRepository;

// A CA, a server certificate for localhost / 127.0.0.1 it signed, a client
// certificate it signed, and a client certificate from another CA.
class Certificates {
 public:
  Certificates() {
    dir_ = absl::StrCat(::testing::TempDir(), "certs_", getpid());
    std::filesystem::create_directories(dir_);
    Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout ca.key -out ca.pem -days 1 -subj /CN=rnnserve-test-ca");
    Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout other_ca.key -out other_ca.pem -days 1 -subj /CN=someone-else");
    Sign("server", "ca", "subjectAltName=DNS:localhost,IP:127.0.0.1");
    Sign("client", "ca", "extendedKeyUsage=clientAuth");
    Sign("stranger", "other_ca", "extendedKeyUsage=clientAuth");
  }
  ~Certificates() { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  std::string Pem(const std::string& name) const {
    return *model::ReadFileToString(Path(name));
  }

 private:
  void Run(const std::string& command) const {
    const std::string line = absl::StrCat("cd ", dir_, " && ", command, " >/dev/null 2>&1");
    ASSERT_EQ(std::system(line.c_str()), 0) << line;
  }
  void Sign(const std::string& name, const std::string& ca, const std::string& extension) const {
    std::ofstream(Path(name + ".ext")) << extension << "\n";
    Run(absl::StrCat("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ",
                     name, ".key -out ", name, ".csr -subj /CN=", name));
    Run(absl::StrCat("openssl x509 -req -in ", name, ".csr -CA ", ca, ".pem -CAkey ", ca,
                     ".key -CAcreateserial -out ", name, ".pem -days 1 -extfile ", name, ".ext"));
  }

  std::string dir_;
};

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
