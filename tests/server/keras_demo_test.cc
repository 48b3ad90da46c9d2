// Issue 18's "the demo models re-saved as .keras and served": at test time
// make_keras_fixtures.py --resave-demos writes a model repository holding
// each demo model of models/ as bundled (native safetensors), as Keras 3
// saves it (model.keras) and as tf.keras 2 saves it (model.h5), with
// python3-h5py in the layouts of ../shared/KERAS_FORMATS.md; build/bin/rnnserve
// serves it as a real process; each demo's sample input streamed through the
// three, one step per message and as one chunk, gives the same rows within
// 1e-5 in the model's units (OutputRowsNear with the native model's stack).
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "model/importers/model_loader.h"
#include "rnnserve/v1/inference.grpc.pb.h"
#include "tests/common/program_run.h"
#include "tests/common/server_process.h"
#include "tests/model/test_util.h"
#include "util/npy.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::OutputRowsNear;
using ::rnnserve::model::testing::SourcePath;
using ::rnnserve::testing::ProgramResult;
using ::rnnserve::testing::RunProgram;
using ::rnnserve::testing::ServerProcess;

// Every output row of one session, however it was stepped.
using Rows = std::vector<float>;

class KerasDemoTest : public ::testing::TestWithParam<std::string> {
 protected:
  // One repository and one server for the suite: writing the charlm files
  // and starting the process are the slow parts.
  static void SetUpTestSuite() {
    repository_ = new std::string(absl::StrCat(::testing::TempDir(), "keras_demos_", getpid()));
    std::filesystem::remove_all(*repository_);
    const ProgramResult script =
        RunProgram({"/usr/bin/python3", SourcePath("tests/testdata/make_keras_fixtures.py"),
                    "--resave-demos", *repository_});
    ASSERT_EQ(script.exit_code, 0)
        << "make_keras_fixtures.py --resave-demos (python3-h5py: scripts/install_deps.sh): "
        << script.err;
    absl::StatusOr<std::unique_ptr<ServerProcess>> server =
        ServerProcess::Start({"--models=" + *repository_});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    if (repository_ != nullptr) std::filesystem::remove_all(*repository_);
    delete repository_;
    repository_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr) << "the suite's server did not start";
    stub_ = v1::InferenceService::NewStub(
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
  }

  static std::string Folder(const std::string& name) { return *repository_ + "/" + name + "/1"; }

  // Steps [first, first + count) of the sample input for `session` of `model`.
  v1::StepRequest StepOf(const std::string& model, const std::string& session, int64_t first,
                         int64_t count) const {
    v1::StepRequest request;
    request.set_session_id(session);
    request.set_start(first == 0);
    request.mutable_model()->set_name(model);
    if (input_.kind == util::NpyArray::Kind::kInteger) {
      request.mutable_tokens()->mutable_ids()->Assign(input_.integers.begin() + first,
                                                      input_.integers.begin() + first + count);
    } else {
      const int64_t width = input_.shape[1];
      request.mutable_floats()->mutable_values()->Assign(
          input_.floats.begin() + first * width, input_.floats.begin() + (first + count) * width);
      request.mutable_floats()->set_steps(static_cast<int32_t>(count));
    }
    return request;
  }

  // The sample input streamed one step per message through `model`.
  Rows StreamOneByOne(const std::string& model) {
    Rows rows;
    grpc::ClientContext context;
    auto stream = stub_->StreamSteps(&context);
    for (int64_t t = 0; t < steps(); ++t) {
      EXPECT_TRUE(stream->Write(StepOf(model, model + "-stream", t, 1)));
      v1::StepResponse response;
      EXPECT_TRUE(stream->Read(&response)) << model << ": step " << t;
      EXPECT_FALSE(response.has_error()) << model << ": " << response.error().message();
      rows.insert(rows.end(), response.outputs().values().begin(),
                  response.outputs().values().end());
    }
    stream->WritesDone();
    const grpc::Status status = stream->Finish();
    EXPECT_TRUE(status.ok()) << model << ": " << status.error_message();
    return rows;
  }

  // The sample input as one unary chunk through `model`.
  Rows OneChunk(const std::string& model) {
    grpc::ClientContext context;
    v1::StepResponse response;
    const grpc::Status status =
        stub_->Step(&context, StepOf(model, model + "-chunk", 0, steps()), &response);
    EXPECT_TRUE(status.ok()) << model << ": " << status.error_message();
    return Rows(response.outputs().values().begin(), response.outputs().values().end());
  }

  int64_t steps() const { return input_.shape[0]; }

  static std::string* repository_;
  static ServerProcess* server_;
  std::unique_ptr<v1::InferenceService::Stub> stub_;
  util::NpyArray input_;
};

std::string* KerasDemoTest::repository_ = nullptr;
ServerProcess* KerasDemoTest::server_ = nullptr;

TEST_P(KerasDemoTest, KerasAndHdf5CopiesStreamAsTheNativeModel) {
  const std::string name = GetParam();
  absl::StatusOr<util::NpyArray> input = util::ReadNpy(Folder(name) + "/sample_input.npy");
  ASSERT_TRUE(input.ok()) << input.status();
  input_ = *std::move(input);
  // The native model's stack sets the tolerance: 1e-5 in its output units.
  absl::StatusOr<model::LoadedModel> native = model::LoadModel(Folder(name));
  ASSERT_TRUE(native.ok()) << native.status();
  const int64_t width = native->stack->output_size();
  const Rows want = StreamOneByOne(name);
  ASSERT_EQ(static_cast<int64_t>(want.size()), steps() * width);
  for (const std::string& copy : {name + "_keras", name + "_h5"}) {
    for (const auto& [how, got] :
         {std::pair<std::string, Rows>{"one step per message", StreamOneByOne(copy)},
          std::pair<std::string, Rows>{"one chunk", OneChunk(copy)}}) {
      ASSERT_EQ(got.size(), want.size()) << copy << ", " << how;
      EXPECT_TRUE(OutputRowsNear(got.data(), want.data(), steps(), width, native->stack.get()))
          << copy << ", " << how << " vs " << name;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Demos, KerasDemoTest, ::testing::Values("charlm", "forecast"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace rnnserve::server
