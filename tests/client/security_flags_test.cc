// The connection flags against servers run with TLS, mutual TLS and a bearer
// token (the server's --tls_cert/--tls_key, --tls_client_ca, --token_file),
// with certificates openssl makes here.
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/cli_test_util.h"

namespace rnnserve::client::testing {
namespace {

using ::testing::HasSubstr;

// A CA, a server certificate it signed for localhost and 127.0.0.1, and a
// client certificate it signed, in this process's TempDir().
class Certificates {
 public:
  Certificates() {
    Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout ca.key -out ca.pem -days 1 -subj /CN=rnnserve-cli-test-ca");
    Sign("server", "subjectAltName=DNS:localhost,IP:127.0.0.1");
    Sign("client", "extendedKeyUsage=clientAuth");
  }
  std::string Path(const std::string& name) const { return TempPath(name); }

 private:
  void Run(const std::string& command) const {
    const std::string line = absl::StrCat("cd ", TempDir(), " && ", command, " >/dev/null 2>&1");
    ASSERT_EQ(std::system(line.c_str()), 0) << line;
  }
  void Sign(const std::string& name, const std::string& extension) const {
    WriteFile(Path(name + ".ext"), extension + "\n");
    Run(
        absl::StrCat("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                     "-keyout ",
                     name, ".key -out ", name, ".csr -subj /CN=", name));
    Run(absl::StrCat("openssl x509 -req -in ", name,
                     ".csr -CA ca.pem -CAkey ca.key "
                     "-CAcreateserial -out ",
                     name, ".pem -days 1 -extfile ", name, ".ext"));
  }
};

class SecurityFlagsTest : public ::testing::Test {
 protected:
  void Serve(const std::vector<std::string>& flags) {
    absl::StatusOr<std::unique_ptr<ServerProcess>> server = ServerProcess::Start(flags);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    flag_ = "--server=" + server_->address();
  }
  Certificates certs_;
  std::unique_ptr<ServerProcess> server_;
  std::string flag_;
};

TEST_F(SecurityFlagsTest, Tls) {
  Serve({"--tls_cert=" + certs_.Path("server.pem"), "--tls_key=" + certs_.Path("server.key")});
  const std::string ca = "--tls_ca=" + certs_.Path("ca.pem");
  CliResult r = RunCli({"models", ca, flag_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("forecast"));
  r = RunCli({"health", ca, flag_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // The certificate names localhost too.
  r = RunCli({"model", "forecast", ca, "--tls_server_name=localhost", flag_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = RunCli({"stream", "--model=forecast", "--input=-", ca, flag_}, "0.5\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = RunCli({"bench", "--model=forecast", "--sessions=4", "--streams=2", "--steps=100", "--json",
              ca, flag_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["steps"], 100);

  // Plaintext, an unknown CA (the system's), or a name the certificate lacks.
  EXPECT_EQ(RunCli({"models", flag_, "--timeout=5s"}).exit_code, 1);
  EXPECT_EQ(RunCli({"models", "--tls", flag_, "--timeout=5s"}).exit_code, 1);
  EXPECT_EQ(
      RunCli({"models", ca, "--tls_server_name=example.com", flag_, "--timeout=5s"}).exit_code, 1);
}

TEST_F(SecurityFlagsTest, MutualTls) {
  Serve({"--tls_cert=" + certs_.Path("server.pem"), "--tls_key=" + certs_.Path("server.key"),
         "--tls_client_ca=" + certs_.Path("ca.pem")});
  const std::string ca = "--tls_ca=" + certs_.Path("ca.pem");
  CliResult r = RunCli({"models", ca, "--tls_cert=" + certs_.Path("client.pem"),
                        "--tls_key=" + certs_.Path("client.key"), flag_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = RunCli({"models", ca, flag_, "--timeout=5s"});  // no client certificate
  EXPECT_EQ(r.exit_code, 1);
}

TEST_F(SecurityFlagsTest, BearerToken) {
  WriteFile(TempPath("token"), "s3cret-token\n");
  WriteFile(TempPath("wrong"), "guess");
  Serve({"--token_file=" + TempPath("token")});
  const std::string token = "--token_file=" + TempPath("token");

  CliResult r = RunCli({"models", flag_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("UNAUTHENTICATED"));
  r = RunCli({"models", "--token_file=" + TempPath("wrong"), flag_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("UNAUTHENTICATED"));

  EXPECT_EQ(RunCli({"models", token, flag_}).exit_code, 0);
  r = RunCli({"stream", "--model=forecast", "--session=t", "--input=-", token, flag_}, "0.5\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = RunCli({"session", "describe", "t", token, flag_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = RunCli({"generate", "--prompt=Hi", "--length=5", token, flag_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = RunCli({"bench", "--model=forecast", "--sessions=4", "--streams=2", "--steps=100", "--json",
              token, flag_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["steps"], 100);
  // Health stays open for probes, which carry no token.
  EXPECT_EQ(RunCli({"health", flag_}).exit_code, 0);
}

TEST(ConnectionFlags, BadSettings) {
  CliResult r = RunCli({"models", "--tls_cert=x.pem"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--tls_cert and --tls_key go together"));
  r = RunCli({"models", "--token_file=" + TempPath("absent")});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.err, HasSubstr("--token_file: " + TempPath("absent") + ": no such file"));
  WriteFile(TempPath("blank"), " \n");
  r = RunCli({"models", "--token_file=" + TempPath("blank")});
  EXPECT_EQ(r.exit_code, 3);
  r = RunCli({"models", "--tls_ca=" + TempPath("absent")});
  EXPECT_EQ(r.exit_code, 3);
}

}  // namespace
}  // namespace rnnserve::client::testing
