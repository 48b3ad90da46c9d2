// Issue 4's parity acceptance over loopback: for an LSTM, a GRU and both demo
// models, streaming T steps one message at a time, one chunk of T, the
// whole-sequence RPC and `rnnserve-model run` all give the reference outputs
// (OutputRowsNear: 1e-5 absolute in the model's units, softmax probabilities
// 1e-4 relative).
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "model/importers/model_loader.h"
#include "rnnserve/v1/inference.grpc.pb.h"
#include "server/rnn_server.h"
#include "tests/model/test_util.h"
#include "util/npy.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::LoadSequences;
using ::rnnserve::model::testing::MakeTestRepository;
using ::rnnserve::model::testing::OutputRowsNear;
using ::rnnserve::model::testing::ReferenceSequence;
using ::rnnserve::model::testing::RunTool;
using ::rnnserve::model::testing::SourcePath;
using ::rnnserve::model::testing::TestdataPath;
using ::rnnserve::util::NpyArray;

struct ParityCase {
  std::string name;        // the model's name in the repository
  std::string folder;      // its version folder
  std::string input_file;  // in `folder`: the reference sequence's input
  bool fixture;            // a tests/testdata fixture (else a bundled demo model)
};

std::ostream& operator<<(std::ostream& out, const ParityCase& c) { return out << c.name; }

// Steps [first, first + count) of `seq` as the input of a request.
template <typename Request>
void SetInput(const ReferenceSequence& seq, int64_t first, int64_t count, Request& request) {
  if (seq.input.kind == util::NpyArray::Kind::kInteger) {
    request.mutable_tokens()->mutable_ids()->Assign(seq.input.integers.begin() + first,
                                                    seq.input.integers.begin() + first + count);
    return;
  }
  const int64_t width = seq.input.shape[1];
  request.mutable_floats()->mutable_values()->Assign(
      seq.input.floats.begin() + first * width, seq.input.floats.begin() + (first + count) * width);
  request.mutable_floats()->set_steps(static_cast<int32_t>(count));
}

// Rows of `values` against the reference from step `first` on, within
// 1e-5 in the model's units (tests/common/parity_tolerance.h).
void ExpectRows(const float* values, int64_t rows, const ReferenceSequence& seq, int64_t first,
                const std::string& how, const model::LayerStack& stack) {
  const int64_t width = seq.expected.shape[1];
  ASSERT_TRUE(
      OutputRowsNear(values, seq.expected.floats.data() + first * width, rows, width, &stack))
      << how << ": from step " << first;
}

class ParityTest : public ::testing::TestWithParam<ParityCase> {
 protected:
  void SetUp() override {
    const ParityCase& c = GetParam();
    folder_ = c.fixture ? TestdataPath("model/" + c.folder) : SourcePath(c.folder);
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.models =
        c.fixture ? MakeTestRepository("parity_" + c.name, {{c.folder, c.name + "/1"}})
                  : SourcePath("models");
    absl::StatusOr<std::unique_ptr<RnnServer>> server = RnnServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = v1::InferenceService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
    seq_ = LoadSequences(folder_).back();
    absl::StatusOr<model::LoadedModel> model = model::LoadModel(folder_);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = model->stack;  // for the tolerance in the model's units
  }

  v1::StepRequest StepOf(const std::string& session, int64_t first, int64_t count) const {
    v1::StepRequest request;
    request.set_session_id(session);
    request.mutable_model()->set_name(GetParam().name);
    request.set_start(first == 0);
    request.set_request_id(absl::StrCat(session, ":", first));
    SetInput(seq_, first, count, request);
    return request;
  }

  std::string folder_;
  std::unique_ptr<RnnServer> server_;
  std::unique_ptr<v1::InferenceService::Stub> stub_;
  ReferenceSequence seq_;
  std::shared_ptr<const model::LayerStack> model_;
};

TEST_P(ParityTest, OneByOneChunkWholeSequenceAndTheToolAgree) {
  const int64_t steps = seq_.steps();
  // Streaming, one step per message.
  grpc::ClientContext context;
  auto stream = stub_->StreamSteps(&context);
  for (int64_t t = 0; t < steps; ++t) {
    ASSERT_TRUE(stream->Write(StepOf("one-by-one", t, 1)));
    v1::StepResponse response;
    ASSERT_TRUE(stream->Read(&response));
    ASSERT_FALSE(response.has_error()) << response.error().message();
    EXPECT_EQ(response.session_steps(), t + 1);
    EXPECT_EQ(response.request_id(), absl::StrCat("one-by-one:", t));
    ASSERT_EQ(response.outputs().shape_size(), 2);
    ASSERT_EQ(response.outputs().shape(0), 1);
    ExpectRows(response.outputs().values().data(), 1, seq_, t, "one by one", *model_);
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  // Unary, one chunk of T.
  {
    grpc::ClientContext chunk_context;
    v1::StepResponse chunk;
    ASSERT_TRUE(stub_->Step(&chunk_context, StepOf("chunk", 0, steps), &chunk).ok());
    ASSERT_EQ(chunk.outputs().shape(0), steps);
    ExpectRows(chunk.outputs().values().data(), steps, seq_, 0, "one chunk", *model_);
  }
  // The whole-sequence call.
  {
    v1::SequenceRequest whole;
    whole.mutable_model()->set_name(GetParam().name);
    SetInput(seq_, 0, steps, whole);
    grpc::ClientContext whole_context;
    v1::SequenceResponse sequence;
    ASSERT_TRUE(stub_->RunSequence(&whole_context, whole, &sequence).ok());
    ASSERT_EQ(sequence.outputs().shape(0), steps);
    ExpectRows(sequence.outputs().values().data(), steps, seq_, 0, "whole sequence", *model_);
  }
  // The offline tool, as users run it.
  const std::string output =
      absl::StrCat(::testing::TempDir(), "parity_", GetParam().name, "_", getpid(), ".npy");
  const auto tool = RunTool(absl::StrCat("run --model ", folder_, " --input ", folder_, "/",
                                         GetParam().input_file, " --output ", output));
  ASSERT_EQ(tool.exit_code, 0) << tool.output;
  const absl::StatusOr<util::NpyArray> written = util::ReadNpy(output);
  ASSERT_TRUE(written.ok()) << written.status();
  ASSERT_EQ(written->shape[0], steps);
  ExpectRows(written->floats.data(), steps, seq_, 0, "rnnserve-model run", *model_);
}

INSTANTIATE_TEST_SUITE_P(
    Models, ParityTest,
    ::testing::Values(ParityCase{"lstm", "lstm_3layer", "input_2.npy", true},
                      ParityCase{"gru", "gru_2layer", "input_2.npy", true},
                      ParityCase{"charlm", "models/charlm/1", "sample_input.npy", false},
                      ParityCase{"forecast", "models/forecast/1", "sample_input.npy", false}),
    [](const ::testing::TestParamInfo<ParityCase>& info) { return info.param.name; });

}  // namespace
}  // namespace rnnserve::server
