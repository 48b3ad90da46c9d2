// TokenCheck on its own: reading the token file, and the check on a real
// grpc::ServerContext whose client metadata is injected (gRPC's own test
// spouse), so each refusal is shown without a server: no metadata, another
// token, the token without "Bearer ", a prefix of it, and a longer one.
#include "server/token_check.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "grpcpp/server_context.h"
#include "grpcpp/test/server_context_test_spouse.h"
#include "gtest/gtest.h"

namespace rnnserve::server {
namespace {

std::string WriteTokenFile(const std::string& name, const std::string& text) {
  const std::string path = std::filesystem::path(::testing::TempDir()) /
                           ("token_" + name + "_" + std::to_string(getpid()));
  std::ofstream(path) << text;
  return path;
}

// The status of `check` on a call carrying `authorization` (none if empty).
absl::Status CheckWith(const TokenCheck& check, const std::string& authorization) {
  grpc::ServerContext context;
  grpc::testing::ServerContextTestSpouse spouse(&context);
  spouse.AddClientMetadata("x-other", "Bearer s3cret");  // only authorization counts
  if (!authorization.empty()) spouse.AddClientMetadata("authorization", authorization);
  return check.Check(context);
}

TEST(TokenCheckTest, AcceptsExactlyBearerAndTheToken) {
  const TokenCheck check("s3cret");
  EXPECT_EQ(check.authorization(), "Bearer s3cret");
  EXPECT_TRUE(CheckWith(check, "Bearer s3cret").ok());
  for (const std::string wrong : {"", "Bearer s3creT", "s3cret", "bearer s3cret", "Bearer s3cre",
                                  "Bearer s3crett", "Bearer  s3cret", "Bearer"}) {
    const absl::Status status = CheckWith(check, wrong);
    EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << "'" << wrong << "'";
  }
  EXPECT_NE(CheckWith(check, "").message().find("authorization: Bearer <token>"),
            std::string::npos);
}

TEST(TokenCheckTest, FromFileStripsSurroundingWhitespace) {
  const absl::StatusOr<TokenCheck> check = TokenCheck::FromFile(WriteTokenFile("ok", "  tok en\n"));
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_EQ(check->authorization(), "Bearer tok en");
  EXPECT_TRUE(CheckWith(*check, "Bearer tok en").ok());
}

TEST(TokenCheckTest, FromFileRefusesMissingAndEmptyFiles) {
  EXPECT_EQ(TokenCheck::FromFile(WriteTokenFile("none", "") + ".missing").status().code(),
            absl::StatusCode::kNotFound);
  const absl::Status empty = TokenCheck::FromFile(WriteTokenFile("blank", " \n\t")).status();
  EXPECT_EQ(empty.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(empty.message().find("empty"), std::string::npos);
}

TEST(TokenCheckTest, NoCheckAllowsEverythingAndRunIfAllowedRunsOnlyWhenAllowed) {
  grpc::ServerContext context;
  EXPECT_TRUE(Allowed(nullptr, context).ok());
  const TokenCheck check("s3cret");
  int runs = 0;
  const absl::Status refused = RunIfAllowed(&check, context, [&] {
    ++runs;
    return absl::OkStatus();
  });
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(runs, 0);
  EXPECT_EQ(RunIfAllowed(nullptr, context,
                         [&] {
                           ++runs;
                           return absl::InternalError("the handler's own");
                         })
                .code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(runs, 1);
}

}  // namespace
}  // namespace rnnserve::server
