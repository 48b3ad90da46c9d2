// Every fixture under tests/testdata/model, onnx, onnx_export, transform and
// keras (made by make_fixtures.py, make_onnx_fixtures.py,
// make_onnx_export_matrix.py, make_transform_fixtures.py and
// make_keras_fixtures.py from PyTorch modules, their ONNX exports, or an
// independent NumPy reference) must be matched on every output of every
// step, whichever way it is stepped (Step, alone and in shuffled batches;
// StepChunk; StepChunks; RunSequence), by OutputRowNear: 1e-5 absolute in the
// model's units (times the output transform's scale), and 1e-4 relative for
// softmax probabilities; so must the trained demo models in models/ against
// their training script.
#include <algorithm>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/engine/layer_stack.h"
#include "model/importers/model_loader.h"
#include "tests/common/skip_by_design.h"
#include "tests/model/test_util.h"

namespace rnnserve::model {
namespace {

using ::rnnserve::model::testing::DemoModelFolders;
using ::rnnserve::model::testing::ExpectedStreaming;
using ::rnnserve::model::testing::FixtureFolders;
using ::rnnserve::model::testing::LoadSequences;
using ::rnnserve::model::testing::ManifestStreaming;
using ::rnnserve::model::testing::OutputRowNear;
using ::rnnserve::model::testing::ReferenceSequence;
using ::rnnserve::model::testing::SourcePath;
using ::rnnserve::model::testing::TestdataPath;
using ::rnnserve::model::testing::TestNameOf;
using ::rnnserve::testing::kSkipByDesign;

class FixtureParityTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string dir = SourcePath(GetParam());
    absl::StatusOr<LoadedModel> model = LoadModel(dir);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = *std::move(model);
    streaming_ = ExpectedStreaming(GetParam());
    sequences_ = LoadSequences(dir);
    ASSERT_FALSE(sequences_.empty());
    for (const ReferenceSequence& s : sequences_) {
      ASSERT_EQ(s.expected.shape.size(), 2u);
      ASSERT_EQ(s.expected.shape[0], s.steps());
      ASSERT_EQ(s.expected.shape[1], stack().output_size());
    }
  }
  const LayerStack& stack() const { return *model_.stack; }
  // OutputRowNear in the model's units: 1e-5 times the output transform's
  // scale (tests/common/parity_tolerance.h).
  void ExpectRowMatches(const float* got, const ReferenceSequence& sequence, int64_t step,
                        const std::string& mode) const {
    const int64_t width = sequence.expected.shape[1];
    const float* want = sequence.expected.floats.data() + step * width;
    ASSERT_TRUE(OutputRowNear(got, want, width, &stack()))
        << mode << ": step " << step << " of " << sequence.steps();
  }
  std::vector<float> NewState() const {
    std::vector<float> state(stack().state_size());
    stack().InitState(state.data());
    return state;
  }

  LoadedModel model_;
  // Whether the fixture's manifest says it streams: the step tests skip by
  // this, so a model the code wrongly calls unstreamable fails, not skips.
  bool streaming_ = false;
  std::vector<ReferenceSequence> sequences_;
};

TEST_P(FixtureParityTest, WholeSequenceMatchesReference) {
  for (const ReferenceSequence& sequence : sequences_) {
    absl::StatusOr<RowMatrix> out = stack().RunSequence(sequence.View());
    ASSERT_TRUE(out.ok()) << out.status();
    if (stack().sequence_output() == SequenceOutput::kFinalState) {
      // ONNX Y_h: one row, the final state of every direction.
      ASSERT_TRUE(sequence.expected_final.has_value());
      ASSERT_EQ(out->rows(), 1);
      const std::vector<float>& want = sequence.expected_final->floats;
      ASSERT_EQ(static_cast<size_t>(out->cols()), want.size());
      ASSERT_TRUE(OutputRowNear(out->data(), want.data(), want.size(), &stack())) << "final state";
      continue;
    }
    for (int64_t t = 0; t < sequence.steps(); ++t) {
      ExpectRowMatches(out->row(t).data(), sequence, t, "sequence");
    }
  }
}

TEST_P(FixtureParityTest, StepByStepMatchesReference) {
  if (!streaming_) GTEST_SKIP() << kSkipByDesign << "whole-sequence model (MANIFEST.txt)";
  Workspace workspace;
  std::vector<float> out(stack().output_size());
  for (const ReferenceSequence& sequence : sequences_) {
    std::vector<float> state = NewState();
    float* states[] = {state.data()};
    for (int64_t t = 0; t < sequence.steps(); ++t) {
      ASSERT_TRUE(stack().Step(states, sequence.View(t, 1), out.data(), workspace).ok());
      ExpectRowMatches(out.data(), sequence, t, "step by step");
    }
  }
}

TEST_P(FixtureParityTest, ChunksMatchReference) {
  if (!streaming_) GTEST_SKIP() << kSkipByDesign << "whole-sequence model (MANIFEST.txt)";
  Workspace workspace;
  for (const ReferenceSequence& sequence : sequences_) {
    // One chunk of everything, then uneven chunks carrying the state across.
    for (int64_t chunk : {sequence.steps(), int64_t{7}, int64_t{32}}) {
      std::vector<float> state = NewState();
      RowMatrix out(chunk, stack().output_size());
      for (int64_t first = 0; first < sequence.steps(); first += chunk) {
        const int64_t count = std::min(chunk, sequence.steps() - first);
        ASSERT_TRUE(stack()
                        .StepChunk(state.data(), sequence.View(first, count), out.data(),
                                   workspace)
                        .ok());
        for (int64_t t = 0; t < count; ++t) {
          ExpectRowMatches(out.row(t).data(), sequence, first + t,
                           "chunks of " + std::to_string(chunk));
        }
      }
    }
  }
}

TEST_P(FixtureParityTest, ShuffledBatchOfSessionsMatchesReference) {
  if (!streaming_) GTEST_SKIP() << kSkipByDesign << "whole-sequence model (MANIFEST.txt)";
  // Three sessions per reference sequence, all stepped together; each step
  // takes the still-running sessions in a fresh random order.
  struct Session {
    const ReferenceSequence* sequence;
    std::vector<float> state;
  };
  std::vector<Session> sessions;
  for (int copy = 0; copy < 3; ++copy) {
    for (const ReferenceSequence& s : sequences_) {
      sessions.push_back({&s, NewState()});
    }
  }
  std::mt19937 rng(42);
  Workspace workspace;
  const bool tokens = stack().input_kind() == InputKind::kTokens;
  const int width = stack().input_size();
  for (int64_t t = 0;; ++t) {
    std::vector<Session*> batch;
    for (Session& s : sessions) {
      if (t < s.sequence->steps()) batch.push_back(&s);
    }
    if (batch.empty()) break;
    std::shuffle(batch.begin(), batch.end(), rng);
    std::vector<float*> states;
    std::vector<float> floats;
    std::vector<int64_t> ids;
    for (Session* s : batch) {
      states.push_back(s->state.data());
      if (tokens) {
        ids.push_back(s->sequence->input.integers[t]);
      } else {
        const float* row = s->sequence->input.floats.data() + t * width;
        floats.insert(floats.end(), row, row + width);
      }
    }
    const StepInput input = tokens ? StepInput::Tokens(ids.data(), ids.size())
                                   : StepInput::Floats(floats.data(), batch.size());
    RowMatrix out(batch.size(), stack().output_size());
    ASSERT_TRUE(stack().Step(states, input, out.data(), workspace).ok());
    for (size_t b = 0; b < batch.size(); ++b) {
      ExpectRowMatches(out.row(b).data(), *batch[b]->sequence, t,
                       "batch of " + std::to_string(batch.size()));
    }
  }
}

TEST_P(FixtureParityTest, ChunksOfABatchMatchReference) {
  if (!streaming_) GTEST_SKIP() << kSkipByDesign << "whole-sequence model (MANIFEST.txt)";
  // StepChunks: three sessions of each sequence stepped together, five
  // steps per call (the last call fewer), time-major rows.
  constexpr int kSessions = 3;
  constexpr int64_t kChunk = 5;
  const bool tokens = stack().input_kind() == InputKind::kTokens;
  const int width = stack().input_size();
  Workspace workspace;
  for (const ReferenceSequence& sequence : sequences_) {
    std::vector<std::vector<float>> states(kSessions, NewState());
    std::vector<float*> pointers;
    for (std::vector<float>& state : states) pointers.push_back(state.data());
    for (int64_t first = 0; first < sequence.steps(); first += kChunk) {
      const int64_t count = std::min(kChunk, sequence.steps() - first);
      std::vector<float> floats;
      std::vector<int64_t> ids;
      for (int64_t t = first; t < first + count; ++t) {
        for (int b = 0; b < kSessions; ++b) {
          if (tokens) {
            ids.push_back(sequence.input.integers[t]);
          } else {
            const float* row = sequence.input.floats.data() + t * width;
            floats.insert(floats.end(), row, row + width);
          }
        }
      }
      const int64_t rows = count * kSessions;
      const StepInput input =
          tokens ? StepInput::Tokens(ids.data(), rows) : StepInput::Floats(floats.data(), rows);
      RowMatrix out(rows, stack().output_size());
      ASSERT_TRUE(stack().StepChunks(pointers, count, input, out.data(), workspace).ok());
      for (int64_t t = 0; t < count; ++t) {
        for (int b = 0; b < kSessions; ++b) {
          ExpectRowMatches(out.row(t * kSessions + b).data(), sequence, first + t,
                           "chunks of a batch, session " + std::to_string(b));
        }
      }
    }
  }
}

TEST_P(FixtureParityTest, StepsOnlyWhenStreamable) {
  // Bidirectional and go_backwards models need the whole sequence first; the
  // manifest says which those are.
  EXPECT_EQ(stack().streamable(), streaming_);
  std::vector<float> state(stack().state_size(), 0.0f);
  std::vector<float> out(sequences_[0].steps() * stack().output_size());
  Workspace workspace;
  const absl::Status status =
      stack().StepChunk(state.data(), sequences_[0].View(), out.data(), workspace);
  EXPECT_EQ(status.code(),
            streaming_ ? absl::StatusCode::kOk : absl::StatusCode::kFailedPrecondition)
      << status;
}

// The manifests list exactly the fixture folders, so none escapes the
// streaming tests for want of a row (and none is listed but gone).
TEST(FixtureManifestTest, ListsEveryFixtureFolder) {
  for (const std::string group : {"model", "onnx", "onnx_export", "transform", "keras"}) {
    std::vector<std::string> listed;
    for (const auto& [name, streaming] : ManifestStreaming(group)) {
      listed.push_back("tests/testdata/" + group + "/" + name);
    }
    std::sort(listed.begin(), listed.end());
    EXPECT_EQ(listed, FixtureFolders(group)) << group << "/MANIFEST.txt";
  }
}

INSTANTIATE_TEST_SUITE_P(Native, FixtureParityTest,
                         ::testing::ValuesIn(FixtureFolders("model")),
                         [](const auto& info) { return TestNameOf(info.param); });
INSTANTIATE_TEST_SUITE_P(Onnx, FixtureParityTest,
                         ::testing::ValuesIn(FixtureFolders("onnx")),
                         [](const auto& info) { return TestNameOf(info.param); });
// Exports as users make them (make_onnx_export_matrix.py) against torch.
INSTANTIATE_TEST_SUITE_P(OnnxExport, FixtureParityTest,
                         ::testing::ValuesIn(FixtureFolders("onnx_export")),
                         [](const auto& info) { return TestNameOf(info.param); });
// Models that normalise their raw inputs and outputs (issue 21), as ONNX
// exports and as native transform blocks: make_transform_fixtures.py.
INSTANTIATE_TEST_SUITE_P(Transform, FixtureParityTest,
                         ::testing::ValuesIn(FixtureFolders("transform")),
                         [](const auto& info) { return TestNameOf(info.param); });
// Keras files in the layouts of Keras 2.2 to 3.15 (make_keras_fixtures.py)
// against a float64 NumPy reference of the Keras equations.
INSTANTIATE_TEST_SUITE_P(Keras, FixtureParityTest, ::testing::ValuesIn(FixtureFolders("keras")),
                         [](const auto& info) { return TestNameOf(info.param); });
// The trained demo models against the training script's own outputs.
INSTANTIATE_TEST_SUITE_P(Demo, FixtureParityTest, ::testing::ValuesIn(DemoModelFolders()),
                         [](const auto& info) { return TestNameOf(info.param); });

}  // namespace
}  // namespace rnnserve::model
