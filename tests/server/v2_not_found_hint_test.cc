// InV2Terms (server/v2/infer_runner.h): the sequence_start hint goes on the
// NOT_FOUND of an unknown or expired session only, never on an unknown
// model's or version's, nor on a start step's. The refusals are the native
// ones' text (step_handler.cc, session_store.cc, served_models.cc). (Over the
// wire: v2_grpc_service_test.cc, v2_http_service_test.cc.)
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/v2/infer_runner.h"

namespace rnnserve::server::v2 {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kHint[] = "sequence_start=true";

TEST(V2NotFoundHintTest, AnUnknownOrExpiredSessionGetsTheHint) {
  for (const std::string message :
       {"session \"42\" not found: start it first; send start=true with a model to begin one",
        "session \"42\" expired: idle for more than 5m; send start=true with a model to begin one",
        "session \"42\" was on replica r2; send start=true with a model to begin one"}) {
    const absl::Status status = InV2Terms(absl::NotFoundError(message), "42", false);
    EXPECT_TRUE(absl::IsNotFound(status));
    EXPECT_THAT(status.message(), HasSubstr(message));
    EXPECT_THAT(status.message(), HasSubstr(kHint));
  }
}

TEST(V2NotFoundHintTest, AnUnknownModelOrVersionGetsNoHint) {
  for (const absl::Status& refusal :
       {absl::NotFoundError("model \"nope\" is not served; serving: lstm, charlm"),
        absl::NotFoundError("model \"lstm\" has no version 9; serving 1"),
        // Another session's name is not this one's.
        absl::NotFoundError("session \"420\" not found: start it first")}) {
    EXPECT_EQ(InV2Terms(refusal, "42", false), refusal);
  }
}

TEST(V2NotFoundHintTest, AStartStepOrAnotherCodeGetsNoHint) {
  const absl::Status not_found = absl::NotFoundError("session \"42\" not found");
  EXPECT_EQ(InV2Terms(not_found, "42", true), not_found);
  const absl::Status precondition = absl::FailedPreconditionError("session \"42\" runs model x");
  EXPECT_EQ(InV2Terms(precondition, "42", false), precondition);
  EXPECT_EQ(InV2Terms(absl::OkStatus(), "42", false), absl::OkStatus());
  EXPECT_THAT(std::string(InV2Terms(not_found, "42", false).message()), HasSubstr(kHint));
  EXPECT_THAT(std::string(InV2Terms(precondition, "42", false).message()), Not(HasSubstr(kHint)));
}

}  // namespace
}  // namespace rnnserve::server::v2
