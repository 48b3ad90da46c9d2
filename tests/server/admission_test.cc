// Admission against real models: the demo charlm (98 outputs per step, the
// model of issue 20) and the small charlm fixture. Answer sizes are checked
// against real serialized StepResponses, so the envelope is a true bound.
#include "server/admission.h"

#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/importers/model_loader.h"
#include "rnnserve/v1/inference.pb.h"
#include "tests/model/test_util.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::SourcePath;
using ::testing::HasSubstr;

std::shared_ptr<const model::LayerStack> DemoCharlm() {
  absl::StatusOr<model::LoadedModel> loaded = model::LoadModel(SourcePath("models/charlm/1"));
  CHECK(loaded.ok()) << loaded.status();
  return loaded->stack;
}

RequestedWork Steps(int64_t steps, bool last_only = false, int64_t echoed = 0) {
  return {.kind = RequestedWork::Kind::kSteps,
          .steps = steps,
          .last_only = last_only,
          .echoed_bytes = echoed};
}

// The widest StepResponse of `rows` x `width` outputs, its strings
// `echoed` bytes in all.
int64_t SerializedAnswerBytes(int64_t rows, int64_t width, int64_t echoed) {
  v1::StepResponse response;
  response.set_request_id(std::string(echoed / 3, 'r'));
  response.set_session_id(std::string(echoed / 3, 's'));
  response.mutable_model()->set_name(std::string(echoed - 2 * (echoed / 3), 'm'));
  response.mutable_model()->set_version(std::numeric_limits<int64_t>::min());
  response.mutable_outputs()->mutable_values()->Resize(static_cast<int>(rows * width), 1.0f);
  response.mutable_outputs()->add_shape(-rows);  // negative: the widest varint
  response.mutable_outputs()->add_shape(-width);
  response.set_session_steps(std::numeric_limits<int64_t>::min());
  return static_cast<int64_t>(response.ByteSizeLong());
}

TEST(AdmissionTest, TheAnswerSizeBoundsTheRealSerializedAnswer) {
  const auto charlm = DemoCharlm();
  for (int64_t rows : {1, 7, 1000, 42'000}) {
    for (int64_t echoed : {0, 3, 300, 768}) {
      const int64_t bound = Admission::AnswerBytes(*charlm, Steps(rows, false, echoed));
      const int64_t real = SerializedAnswerBytes(rows, charlm->output_size(), echoed);
      EXPECT_GE(bound, real) << rows << " rows, " << echoed << " echoed";
      EXPECT_LE(bound, real + 128) << "a loose bound refuses answers that fit";
    }
  }
}

TEST(AdmissionTest, A2Pow20StepAnswerToCharlmIsRefusedNamingTheLargestChunkThatFits) {
  const auto charlm = DemoCharlm();
  Admission admission(AdmissionLimits{});  // 16 MiB, the defaults
  const absl::StatusOr<InflightBudget::Reservation> refused =
      admission.Admit(*charlm, "charlm", Steps(1 << 20, false, 20));
  ASSERT_TRUE(absl::IsInvalidArgument(refused.status())) << refused.status();
  const int64_t largest = admission.LargestAnsweredChunk(*charlm, 20);
  EXPECT_EQ(largest, ((16 << 20) - 128 - 20) / (98 * 4));
  EXPECT_THAT(refused.status().message(),
              HasSubstr(absl::StrCat("send at most ", largest,
                                     " steps per request to model "
                                     "charlm, or ask for OUTPUT_MODE_LAST_STEP")));
  EXPECT_THAT(refused.status().message(), HasSubstr("nothing was computed or applied"));
  EXPECT_EQ(admission.budget().used_bytes(), 0);
  // The largest chunk is admitted, one step more is not.
  EXPECT_TRUE(admission.Admit(*charlm, "charlm", Steps(largest, false, 20)).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(
      admission.Admit(*charlm, "charlm", Steps(largest + 1, false, 20)).status()));
  // The same steps with the last output only fit.
  EXPECT_TRUE(admission.Admit(*charlm, "charlm", Steps(largest + 1, true, 20)).ok());
}

TEST(AdmissionTest, StepsPastTheCapAreRefusedInEveryOutputMode) {
  const auto charlm = DemoCharlm();
  Admission admission(AdmissionLimits{.max_steps_per_request = 100});
  EXPECT_TRUE(admission.Admit(*charlm, "charlm", Steps(100, true)).ok());
  for (bool last_only : {false, true}) {
    const absl::Status refused = admission.Admit(*charlm, "charlm", Steps(101, last_only)).status();
    EXPECT_TRUE(absl::IsInvalidArgument(refused)) << refused;
    EXPECT_THAT(refused.message(), HasSubstr("at most 100 per request (--max_steps_per_request)"));
  }
  RequestedWork sequence = Steps(101, true);
  sequence.kind = RequestedWork::Kind::kWholeSequence;
  EXPECT_TRUE(absl::IsInvalidArgument(admission.Admit(*charlm, "charlm", sequence).status()));
}

TEST(AdmissionTest, TheDefaultStepCapIsDerivedFromTheMessageLimit) {
  EXPECT_EQ(AdmissionLimits{}.steps_per_request(), 262'144);  // 16 MiB / 64
  EXPECT_EQ(AdmissionLimits{.max_message_bytes = 4 << 20}.steps_per_request(), 65'536);
  EXPECT_EQ(AdmissionLimits{.max_message_bytes = (1LL << 31) - 1}.steps_per_request(),
            model::LayerStack::kMaxInputRows);
  EXPECT_EQ(AdmissionLimits{.max_steps_per_request = 7}.steps_per_request(), 7);
}

TEST(AdmissionTest, TheBudgetRefusesWhatWouldPassItAndTakesItBackOnRelease) {
  const auto charlm = DemoCharlm();
  const int64_t one = Admission::WorkBytes(*charlm, Steps(1000));
  // The inputs (3 copies of 8-byte ids) and the answer (3 copies).
  EXPECT_EQ(one, 3 * 1000 * 8 + 3 * 1000 * 98 * 4);
  Admission admission(AdmissionLimits{.max_inflight_bytes = 2 * one});
  absl::StatusOr<InflightBudget::Reservation> first =
      admission.Admit(*charlm, "charlm", Steps(1000));
  absl::StatusOr<InflightBudget::Reservation> second =
      admission.Admit(*charlm, "charlm", Steps(1000));
  ASSERT_TRUE(first.ok() && second.ok());
  const absl::Status busy = admission.Admit(*charlm, "charlm", Steps(1000)).status();
  EXPECT_TRUE(absl::IsResourceExhausted(busy)) << busy;
  first->Release();
  EXPECT_TRUE(admission.Admit(*charlm, "charlm", Steps(1000)).ok());
  // More than the whole budget can never run: not a "retry later".
  EXPECT_TRUE(absl::IsInvalidArgument(admission.Admit(*charlm, "charlm", Steps(3000)).status()));
}

TEST(AdmissionTest, AWholeSequenceCountsEveryLayersOutputsForEveryStep) {
  const auto charlm = DemoCharlm();
  RequestedWork sequence = Steps(1000, true);
  sequence.kind = RequestedWork::Kind::kWholeSequence;
  // Input 32, widest level 192, head 98 floats a step on top of the step's.
  EXPECT_EQ(Admission::WorkBytes(*charlm, sequence),
            Admission::WorkBytes(*charlm, Steps(1000, true)) + 1000 * 4 * (32 + 3 * 192 + 98));
}

}  // namespace
}  // namespace rnnserve::server
