// The Open Inference Protocol request and response mapping alone
// (server/v2/infer_request.h, infer_response.h, sequence_parameters.h), over
// served fixtures: lstm (FP32 features) and charlm (token ids). Every refusal
// says what was expected. (The service end to end: v2_grpc_service_test.cc.)
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "glog/logging.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/v2/infer_request.h"
#include "server/v2/infer_response.h"
#include "tests/model/test_util.h"

namespace rnnserve::server::v2 {
namespace {

using ::testing::HasSubstr;
using Request = inference::ModelInferRequest;

class V2InferRequestTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string root = model::testing::MakeTestRepository(
        "v2_request", {{"lstm_3layer", "lstm/1"}, {"charlm", "charlm/1"}});
    absl::StatusOr<std::unique_ptr<ServedModels>> models = ServedModels::Load(root, 10);
    CHECK(models.ok()) << models.status();
    models_ = models->release();
  }

  static int Width() { return models_->Find("lstm", 0).value()->loaded.stack->input_size(); }

  // `steps` steps of lstm input, typed FP32 [steps, width].
  static Request FloatRequest(int64_t steps) {
    Request request;
    request.set_model_name("lstm");
    request.set_id("req-1");
    auto* input = request.add_inputs();
    input->set_name("input");
    input->set_datatype("FP32");
    input->add_shape(steps);
    input->add_shape(Width());
    for (int64_t i = 0; i < steps * Width(); ++i) {
      input->mutable_contents()->add_fp32_contents(0.25f * static_cast<float>(i));
    }
    return request;
  }

  static void SetSequence(Request& request, uint64_t id, bool start, bool end) {
    (*request.mutable_parameters())["sequence_id"].set_uint64_param(id);
    (*request.mutable_parameters())["sequence_start"].set_bool_param(start);
    (*request.mutable_parameters())["sequence_end"].set_bool_param(end);
  }

  static absl::Status Refusal(const Request& request) {
    return ToNativeRequest(request, *models_).status();
  }

  static ServedModels* models_;
};

ServedModels* V2InferRequestTest::models_ = nullptr;

TEST_F(V2InferRequestTest, TypedFloatsWithASequenceIdAreAStep) {
  Request request = FloatRequest(3);
  SetSequence(request, 42, true, false);
  (*request.mutable_parameters())["output_mode"].set_string_param("last_step");
  absl::StatusOr<NativeRequest> native = ToNativeRequest(request, *models_);
  ASSERT_TRUE(native.ok()) << native.status();
  const auto* step = std::get_if<v1::StepRequest>(&native->call);
  ASSERT_NE(step, nullptr);
  EXPECT_EQ(step->session_id(), "42");
  EXPECT_TRUE(step->start());
  EXPECT_FALSE(step->end());
  EXPECT_EQ(step->model().name(), "lstm");
  EXPECT_EQ(step->request_id(), "req-1");
  EXPECT_EQ(step->output_mode(), v1::OUTPUT_MODE_LAST_STEP);
  EXPECT_FALSE(step->has_expected_session_steps());
  EXPECT_EQ(step->floats().steps(), 3);
  ASSERT_EQ(step->floats().values_size(), 3 * Width());
  EXPECT_EQ(step->floats().values(5), 1.25f);
  EXPECT_EQ(native->form.id, "req-1");
  EXPECT_FALSE(native->form.raw);
  EXPECT_FALSE(native->form.batch_dim);
}

TEST_F(V2InferRequestTest, SequenceIdsAsInt64AndStringAndNoneIsStateless) {
  Request request = FloatRequest(1);
  (*request.mutable_parameters())["sequence_id"].set_int64_param(7);
  EXPECT_EQ(std::get<v1::StepRequest>(ToNativeRequest(request, *models_)->call).session_id(), "7");
  (*request.mutable_parameters())["sequence_id"].set_string_param("user-7");
  EXPECT_EQ(std::get<v1::StepRequest>(ToNativeRequest(request, *models_)->call).session_id(),
            "user-7");
  // tritonclient sends no sequence as 0; so does an empty string.
  (*request.mutable_parameters())["sequence_id"].set_uint64_param(0);
  EXPECT_TRUE(
      std::holds_alternative<v1::SequenceRequest>(ToNativeRequest(request, *models_)->call));
  request.mutable_parameters()->clear();
  absl::StatusOr<NativeRequest> native = ToNativeRequest(request, *models_);
  ASSERT_TRUE(native.ok()) << native.status();
  const auto& sequence = std::get<v1::SequenceRequest>(native->call);
  EXPECT_EQ(sequence.model().name(), "lstm");
  EXPECT_EQ(sequence.floats().values_size(), Width());
}

TEST_F(V2InferRequestTest, ABatchDimensionOfOneAndRawBytesAreAccepted) {
  Request request = FloatRequest(2);
  auto* input = request.mutable_inputs(0);
  const std::vector<float> values(input->contents().fp32_contents().begin(),
                                  input->contents().fp32_contents().end());
  input->clear_contents();
  input->clear_shape();
  for (const int64_t dim : {int64_t{1}, int64_t{2}, int64_t{Width()}}) input->add_shape(dim);
  request.add_raw_input_contents()->assign(reinterpret_cast<const char*>(values.data()),
                                           values.size() * sizeof(float));
  SetSequence(request, 1, true, true);
  absl::StatusOr<NativeRequest> native = ToNativeRequest(request, *models_);
  ASSERT_TRUE(native.ok()) << native.status();
  EXPECT_TRUE(native->form.raw);
  EXPECT_TRUE(native->form.batch_dim);
  const auto& step = std::get<v1::StepRequest>(native->call);
  EXPECT_TRUE(step.end());
  EXPECT_THAT(std::vector<float>(step.floats().values().begin(), step.floats().values().end()),
              ::testing::ElementsAreArray(values));
}

TEST_F(V2InferRequestTest, TokenIdsAsInt64AndInt32) {
  Request request;
  request.set_model_name("charlm");
  auto* input = request.add_inputs();
  input->set_name("input");
  input->set_datatype("INT32");
  input->add_shape(1);
  input->add_shape(3);
  for (const int id : {3, 1, 4}) input->mutable_contents()->add_int_contents(id);
  absl::StatusOr<NativeRequest> native = ToNativeRequest(request, *models_);
  ASSERT_TRUE(native.ok()) << native.status();
  EXPECT_THAT(std::get<v1::SequenceRequest>(native->call).tokens().ids(),
              ::testing::ElementsAre(3, 1, 4));
  input->set_datatype("INT64");
  input->clear_contents();
  const std::vector<int64_t> ids = {5, 9};
  input->clear_shape();
  input->add_shape(2);
  request.add_raw_input_contents()->assign(reinterpret_cast<const char*>(ids.data()),
                                           ids.size() * sizeof(int64_t));
  native = ToNativeRequest(request, *models_);
  ASSERT_TRUE(native.ok()) << native.status();
  EXPECT_THAT(std::get<v1::SequenceRequest>(native->call).tokens().ids(),
              ::testing::ElementsAre(5, 9));
  // FP32 is not what a token model takes.
  input->set_datatype("FP32");
  EXPECT_THAT(Refusal(request).message(), HasSubstr("takes token ids, INT64 or INT32"));
}

// Each malformed request: INVALID_ARGUMENT (or NOT_FOUND) saying what was
// wanted.
TEST_F(V2InferRequestTest, BadRequestsSayWhatWasExpected) {
  struct Case {
    const char* what;
    std::function<void(Request&)> spoil;
    absl::StatusCode code;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"no model", [](Request& r) { r.clear_model_name(); }, absl::StatusCode::kInvalidArgument,
       "model_name is empty"},
      {"unknown model", [](Request& r) { r.set_model_name("nope"); }, absl::StatusCode::kNotFound,
       "nope"},
      {"bad version", [](Request& r) { r.set_model_version("01"); },
       absl::StatusCode::kInvalidArgument, "model_version \"01\" is not a version"},
      {"input name", [](Request& r) { r.mutable_inputs(0)->set_name("x"); },
       absl::StatusCode::kInvalidArgument, "inputs [x]; want exactly one, input"},
      {"two inputs", [](Request& r) { *r.add_inputs() = r.inputs(0); },
       absl::StatusCode::kInvalidArgument, "inputs [input, input]"},
      {"datatype", [](Request& r) { r.mutable_inputs(0)->set_datatype("FP64"); },
       absl::StatusCode::kInvalidArgument, "is FP64; this model takes FP32"},
      {"width", [](Request& r) { r.mutable_inputs(0)->set_shape(1, 1); },
       absl::StatusCode::kInvalidArgument, "features per step"},
      {"rank",
       [](Request& r) {
         r.mutable_inputs(0)->add_shape(1);
         r.mutable_inputs(0)->add_shape(1);
       },
       absl::StatusCode::kInvalidArgument, "want [T, "},
      {"batch of 2",
       [](Request& r) {
         r.mutable_inputs(0)->clear_shape();
         for (const int64_t d : {int64_t{2}, int64_t{1}, int64_t{Width()}}) {
           r.mutable_inputs(0)->add_shape(d);
         }
       },
       absl::StatusCode::kInvalidArgument, "a batch of 2"},
      {"no steps", [](Request& r) { r.mutable_inputs(0)->set_shape(0, 0); },
       absl::StatusCode::kInvalidArgument, "0 steps; want 1 to"},
      {"negative steps", [](Request& r) { r.mutable_inputs(0)->set_shape(0, -4); },
       absl::StatusCode::kInvalidArgument, "-4 steps"},
      {"huge shape", [](Request& r) { r.mutable_inputs(0)->set_shape(0, int64_t{1} << 62); },
       absl::StatusCode::kInvalidArgument, "steps; want 1 to"},
      {"contents short",
       [](Request& r) {
         r.mutable_inputs(0)->mutable_contents()->mutable_fp32_contents()->RemoveLast();
       },
       absl::StatusCode::kInvalidArgument, "values in contents.fp32_contents; its shape"},
      {"contents in the wrong field",
       [](Request& r) {
         r.mutable_inputs(0)->mutable_contents()->clear_fp32_contents();
         r.mutable_inputs(0)->mutable_contents()->add_fp64_contents(1);
       },
       absl::StatusCode::kInvalidArgument, "0 values in contents.fp32_contents"},
      {"raw wrong length",
       [](Request& r) {
         r.mutable_inputs(0)->clear_contents();
         r.add_raw_input_contents("abc");
       },
       absl::StatusCode::kInvalidArgument, "raw_input_contents[0] has 3 bytes"},
      {"raw and typed", [](Request& r) { r.add_raw_input_contents("abcd"); },
       absl::StatusCode::kInvalidArgument, "both contents and raw_input_contents"},
      {"two raw",
       [](Request& r) {
         r.mutable_inputs(0)->clear_contents();
         r.add_raw_input_contents("a");
         r.add_raw_input_contents("b");
       },
       absl::StatusCode::kInvalidArgument, "2 raw_input_contents"},
      {"unknown output", [](Request& r) { r.add_outputs()->set_name("logits"); },
       absl::StatusCode::kInvalidArgument, "requested output \"logits\" is unknown"},
      {"start without id",
       [](Request& r) { (*r.mutable_parameters())["sequence_start"].set_bool_param(true); },
       absl::StatusCode::kInvalidArgument, "sequence_start needs a sequence_id"},
      {"id as bool",
       [](Request& r) { (*r.mutable_parameters())["sequence_id"].set_bool_param(true); },
       absl::StatusCode::kInvalidArgument, "sequence_id is a bool_param; want uint64_param"},
      {"negative id",
       [](Request& r) { (*r.mutable_parameters())["sequence_id"].set_int64_param(-3); },
       absl::StatusCode::kInvalidArgument, "sequence_id is -3"},
      {"start as string",
       [](Request& r) { (*r.mutable_parameters())["sequence_start"].set_string_param("yes"); },
       absl::StatusCode::kInvalidArgument, "sequence_start is a string_param; want bool_param"},
      {"expected steps without an id",
       [](Request& r) { (*r.mutable_parameters())["expected_session_steps"].set_int64_param(3); },
       absl::StatusCode::kInvalidArgument, "expected_session_steps needs a sequence_id"},
      {"negative expected steps",
       [](Request& r) {
         (*r.mutable_parameters())["sequence_id"].set_uint64_param(1);
         (*r.mutable_parameters())["expected_session_steps"].set_int64_param(-1);
       },
       absl::StatusCode::kInvalidArgument, "expected_session_steps is out of range"},
      {"output_mode",
       [](Request& r) { (*r.mutable_parameters())["output_mode"].set_string_param("some"); },
       absl::StatusCode::kInvalidArgument, "output_mode is \"some\"; want the string all_steps"},
  };
  for (const Case& c : cases) {
    Request request = FloatRequest(2);
    c.spoil(request);
    const absl::Status status = Refusal(request);
    EXPECT_EQ(status.code(), c.code) << c.what << ": " << status;
    EXPECT_THAT(status.message(), HasSubstr(c.message)) << c.what;
  }
}

TEST_F(V2InferRequestTest, UnknownParametersAreIgnoredAsTritonDoes) {
  Request request = FloatRequest(1);
  (*request.mutable_parameters())["priority"].set_uint64_param(3);
  (*request.mutable_parameters())["timeout"].set_int64_param(1000);
  EXPECT_TRUE(ToNativeRequest(request, *models_).ok());
}

TEST_F(V2InferRequestTest, ASequenceGoesOnOnARetiredVersionButNoneStartsOnIt) {
  const std::string root = model::testing::MakeTestRepository(
      "v2_retired", {{"lstm_3layer", "lstm/1"}, {"lstm_3layer", "lstm/2"}});
  const std::unique_ptr<ServedModels> models = *ServedModels::Load(root, 10);
  std::filesystem::remove_all(root + "/lstm/1");
  const absl::StatusOr<ServedModels::Reloaded> reloaded = models->Reload(root, 10);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  ASSERT_EQ(reloaded->retired.size(), 1u);
  Request request = FloatRequest(2);
  request.set_model_version("1");
  SetSequence(request, 7, /*start=*/false, /*end=*/false);
  EXPECT_TRUE(ToNativeRequest(request, *models).ok());
  SetSequence(request, 7, /*start=*/true, /*end=*/false);
  const absl::Status start = ToNativeRequest(request, *models).status();
  EXPECT_EQ(start.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(start.message(), HasSubstr("retired"));
}

TEST(V2InferResponseTest, TypedOrRawWithTheBatchDimensionAndSessionSteps) {
  v1::Outputs outputs;
  for (const float v : {1.f, 2.f, 3.f, 4.f, 5.f, 6.f}) outputs.add_values(v);
  outputs.add_shape(2);
  outputs.add_shape(3);
  v1::ModelRef model;
  model.set_name("lstm");
  model.set_version(4);
  ResponseForm form{.id = "abc", .raw = false, .batch_dim = true};
  inference::ModelInferResponse typed = ToInferResponse(outputs, model, 9, form);
  EXPECT_EQ(typed.model_name(), "lstm");
  EXPECT_EQ(typed.model_version(), "4");
  EXPECT_EQ(typed.id(), "abc");
  EXPECT_EQ(typed.parameters().at("session_steps").int64_param(), 9);
  ASSERT_EQ(typed.outputs_size(), 1);
  EXPECT_EQ(typed.outputs(0).name(), "output");
  EXPECT_EQ(typed.outputs(0).datatype(), "FP32");
  EXPECT_THAT(typed.outputs(0).shape(), ::testing::ElementsAre(1, 2, 3));
  EXPECT_THAT(typed.outputs(0).contents().fp32_contents(),
              ::testing::ElementsAre(1, 2, 3, 4, 5, 6));
  EXPECT_EQ(typed.raw_output_contents_size(), 0);

  form.raw = true;
  form.batch_dim = false;
  inference::ModelInferResponse raw = ToInferResponse(outputs, model, std::nullopt, form);
  EXPECT_FALSE(raw.parameters().contains("session_steps"));
  EXPECT_THAT(raw.outputs(0).shape(), ::testing::ElementsAre(2, 3));
  EXPECT_EQ(raw.outputs(0).contents().fp32_contents_size(), 0);
  ASSERT_EQ(raw.raw_output_contents_size(), 1);
  ASSERT_EQ(raw.raw_output_contents(0).size(), 6 * sizeof(float));
  float values[6];
  std::memcpy(values, raw.raw_output_contents(0).data(), sizeof(values));
  EXPECT_THAT(values, ::testing::ElementsAre(1, 2, 3, 4, 5, 6));
}

}  // namespace
}  // namespace rnnserve::server::v2
