// LayerStack's input checks and its state contract.
#include "model/engine/layer_stack.h"

#include <cmath>
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/importers/model_loader.h"
#include "tests/model/test_util.h"

namespace rnnserve::model {
namespace {

using ::rnnserve::model::testing::TestdataPath;
using ::testing::HasSubstr;

std::shared_ptr<const LayerStack> Load(const std::string& fixture) {
  absl::StatusOr<LoadedModel> model = LoadModel(TestdataPath("model/" + fixture));
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? model->stack : nullptr;
}

TEST(LayerStackTest, RefusesNonFiniteInput) {
  const auto stack = Load("lstm_1layer");
  std::vector<float> x(2 * 4, 0.5f);
  x[6] = std::numeric_limits<float>::quiet_NaN();
  const absl::Status status = stack->CheckInput(StepInput::Floats(x.data(), 2));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("step 1, feature 2 is nan"));
}

TEST(LayerStackTest, RefusesTokensOutsideTheVocabulary) {
  const auto stack = Load("charlm");
  const int64_t ids[] = {3, 11};
  const absl::Status status = stack->CheckInput(StepInput::Tokens(ids, 2));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("step 1: token id 11 is outside the vocabulary [0, 11)"));
  const int64_t negative[] = {-1};
  EXPECT_FALSE(stack->CheckInput(StepInput::Tokens(negative, 1)).ok());
}

TEST(LayerStackTest, RefusesTheWrongInputKindAndEmptyInput) {
  const auto tokens_model = Load("charlm");
  const float x[5] = {};
  EXPECT_THAT(tokens_model->CheckInput(StepInput::Floats(x, 1)).message(),
              HasSubstr("want token ids"));
  const auto floats_model = Load("lstm_1layer");
  const int64_t ids[] = {1};
  EXPECT_THAT(floats_model->CheckInput(StepInput::Tokens(ids, 1)).message(),
              HasSubstr("takes 4 floats per step"));
  EXPECT_THAT(floats_model->CheckInput(StepInput::Floats(x, 0)).message(),
              HasSubstr("input is empty"));
}

TEST(LayerStackTest, StepRefusesABatchSizeMismatchAndLeavesStatesAlone) {
  const auto stack = Load("gru_1layer");
  std::vector<float> a(stack->state_size(), 0.125f), b(stack->state_size(), 0.125f);
  float* states[] = {a.data(), b.data()};
  const float x[4] = {1, 2, 3, 4};
  std::vector<float> out(2 * stack->output_size());
  Workspace workspace;
  const absl::Status status =
      stack->Step(states, StepInput::Floats(x, 1), out.data(), workspace);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(a, ::testing::Each(0.125f));
}

TEST(LayerStackTest, StateIsTheTopLayerOutputForPlainStacks) {
  // The state layout is [r][c] per layer: for a GRU, r is h, the output.
  const auto stack = Load("gru_2layer");
  ASSERT_EQ(stack->state_size(), 2 * 6);
  std::vector<float> state(stack->state_size(), 0.0f);
  const float x[3] = {0.1f, -0.2f, 0.3f};
  std::vector<float> out(stack->output_size());
  Workspace workspace;
  ASSERT_TRUE(stack->StepChunk(state.data(), StepInput::Floats(x, 1), out.data(), workspace).ok());
  for (int j = 0; j < 6; ++j) EXPECT_EQ(state[6 + j], out[j]);
}

// StepChunks steps B sessions together for T steps; each session must end up
// exactly where stepping it alone by StepChunk takes it.
TEST(LayerStackTest, StepChunksMatchesEachSessionStepchunkedAlone) {
  constexpr int kSessions = 3;
  constexpr int kSteps = 5;
  for (const char* fixture : {"lstm_proj", "lstm_peephole_clip", "gru_2layer",
                              "gru_reset_before", "jordan_tanh", "charlm"}) {
    SCOPED_TRACE(fixture);
    const auto stack = Load(fixture);
    ASSERT_NE(stack, nullptr);
    const bool tokens = stack->input_kind() == InputKind::kTokens;
    const int in = stack->input_size(), out = stack->output_size();
    // Time-major: row t * kSessions + b is session b's step t.
    std::vector<float> x(kSteps * kSessions * in);
    std::vector<int64_t> ids(kSteps * kSessions);
    for (size_t i = 0; i < x.size(); ++i) x[i] = 0.37f * std::sin(0.7f * i);
    for (size_t i = 0; tokens && i < ids.size(); ++i) ids[i] = (i * 5) % stack->vocabulary_size();
    std::vector<std::vector<float>> together(kSessions), alone(kSessions);
    std::vector<float*> pointers;
    for (int b = 0; b < kSessions; ++b) {
      together[b].assign(stack->state_size(), 0.0f);
      stack->InitState(together[b].data());
      for (float& v : together[b]) v += 0.01f * b;  // distinct starting states
      alone[b] = together[b];
      pointers.push_back(together[b].data());
    }
    Workspace workspace;
    std::vector<float> y(kSteps * kSessions * out);
    const StepInput input = tokens ? StepInput::Tokens(ids.data(), kSteps * kSessions)
                                   : StepInput::Floats(x.data(), kSteps * kSessions);
    ASSERT_TRUE(stack->StepChunks(pointers, kSteps, input, y.data(), workspace).ok());

    for (int b = 0; b < kSessions; ++b) {
      std::vector<float> xb;
      std::vector<int64_t> idsb;
      for (int t = 0; t < kSteps; ++t) {
        const int row = t * kSessions + b;
        xb.insert(xb.end(), x.begin() + row * in, x.begin() + (row + 1) * in);
        idsb.push_back(ids[row]);
      }
      std::vector<float> yb(kSteps * out);
      const StepInput one = tokens ? StepInput::Tokens(idsb.data(), kSteps)
                                   : StepInput::Floats(xb.data(), kSteps);
      ASSERT_TRUE(stack->StepChunk(alone[b].data(), one, yb.data(), workspace).ok());
      for (int t = 0; t < kSteps; ++t) {
        for (int j = 0; j < out; ++j) {
          ASSERT_NEAR(y[(t * kSessions + b) * out + j], yb[t * out + j], 1e-6)
              << "session " << b << ", step " << t << ", output " << j;
        }
      }
      for (int64_t j = 0; j < stack->state_size(); ++j) {
        ASSERT_NEAR(together[b][j], alone[b][j], 1e-6) << "session " << b << ", state " << j;
      }
    }
  }
}

TEST(LayerStackTest, StepChunksRefusesARowCountThatIsNotStepsTimesSessions) {
  const auto stack = Load("gru_1layer");
  std::vector<float> a(stack->state_size(), 0.0f), b(stack->state_size(), 0.0f);
  float* states[] = {a.data(), b.data()};
  const std::vector<float> x(5 * 4, 0.5f);
  std::vector<float> out(5 * stack->output_size());
  Workspace workspace;
  const absl::Status status =
      stack->StepChunks(states, 3, StepInput::Floats(x.data(), 5), out.data(), workspace);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("want steps * sessions"));
  EXPECT_EQ(stack->StepChunks(states, 0, StepInput::Floats(x.data(), 0), out.data(), workspace)
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// StepChunks with lengths: chunks of different lengths stepped together over
// their common prefix, then as the batch shrinks, end where each session
// stepped alone ends, and give the same outputs.
TEST(LayerStackTest, StepChunksOfDifferentLengthsMatchEachSessionAlone) {
  const std::vector<int> lengths = {7, 4, 4, 2, 1};
  const int sessions = static_cast<int>(lengths.size());
  for (const char* fixture : {"lstm_proj", "lstm_peephole_clip", "gru_2layer", "gru_reset_before",
                              "jordan_tanh", "charlm"}) {
    SCOPED_TRACE(fixture);
    const auto stack = Load(fixture);
    ASSERT_NE(stack, nullptr);
    const bool tokens = stack->input_kind() == InputKind::kTokens;
    const int in = stack->input_size(), out = stack->output_size();
    // Session b's step t, packed: the rows of step t are the sessions still
    // running at t, in order.
    const auto value = [](int b, int t, int j) {
      return 0.37f * std::sin(0.7f * (b * 31 + t * 7 + j));
    };
    const auto id = [&](int b, int t) {
      return static_cast<int64_t>((b * 5 + t * 3) % std::max(1, stack->vocabulary_size()));
    };
    std::vector<float> x;
    std::vector<int64_t> ids;
    for (int t = 0; t < lengths[0]; ++t) {
      for (int b = 0; b < sessions && lengths[b] > t; ++b) {
        for (int j = 0; j < in; ++j) x.push_back(value(b, t, j));
        ids.push_back(id(b, t));
      }
    }
    const int64_t rows = static_cast<int64_t>(ids.size());
    std::vector<std::vector<float>> together(sessions), alone(sessions);
    std::vector<float*> pointers;
    for (int b = 0; b < sessions; ++b) {
      together[b].assign(stack->state_size(), 0.0f);
      stack->InitState(together[b].data());
      for (float& v : together[b]) v += 0.01f * b;
      alone[b] = together[b];
      pointers.push_back(together[b].data());
    }
    Workspace workspace;
    std::vector<float> y(rows * out);
    const StepInput input =
        tokens ? StepInput::Tokens(ids.data(), rows) : StepInput::Floats(x.data(), rows);
    ASSERT_TRUE(stack->StepChunks(pointers, lengths, input, y.data(), workspace).ok());
    for (int b = 0; b < sessions; ++b) {
      std::vector<float> xb;
      std::vector<int64_t> idsb;
      for (int t = 0; t < lengths[b]; ++t) {
        for (int j = 0; j < in; ++j) xb.push_back(value(b, t, j));
        idsb.push_back(id(b, t));
      }
      std::vector<float> yb(lengths[b] * out);
      const StepInput one = tokens ? StepInput::Tokens(idsb.data(), lengths[b])
                                   : StepInput::Floats(xb.data(), lengths[b]);
      ASSERT_TRUE(stack->StepChunk(alone[b].data(), one, yb.data(), workspace).ok());
      int64_t row = 0;  // the first packed row of step t
      for (int t = 0; t < lengths[b]; ++t) {
        for (int j = 0; j < out; ++j) {
          ASSERT_NEAR(y[(row + b) * out + j], yb[t * out + j], 1e-6)
              << "session " << b << ", step " << t << ", output " << j;
        }
        for (int s = 0; s < sessions; ++s) row += lengths[s] > t ? 1 : 0;
      }
      for (int64_t j = 0; j < stack->state_size(); ++j) {
        ASSERT_NEAR(together[b][j], alone[b][j], 1e-6) << "session " << b << ", state " << j;
      }
    }
  }
}

TEST(LayerStackTest, StepChunksRefusesLengthsOutOfOrderOrNotMatchingTheRows) {
  const auto stack = Load("gru_1layer");
  std::vector<float> a(stack->state_size(), 0.0f), b(stack->state_size(), 0.0f);
  float* states[] = {a.data(), b.data()};
  const std::vector<float> x(5 * 4, 0.5f);
  std::vector<float> out(5 * stack->output_size());
  Workspace workspace;
  const auto code = [&](std::vector<int> lengths, int64_t rows) {
    return stack->StepChunks(states, lengths, StepInput::Floats(x.data(), rows), out.data(),
                             workspace);
  };
  EXPECT_THAT(code({2, 3}, 5).message(), HasSubstr("longest first"));
  EXPECT_THAT(code({3, 0}, 3).message(), HasSubstr("at least 1"));
  EXPECT_THAT(code({3, 1}, 5).message(), HasSubstr("got 5 input rows"));
  EXPECT_THAT(code({3}, 3).message(), HasSubstr("want one each"));
  EXPECT_TRUE(code({3, 2}, 5).ok());
}

// `stack` again with `transforms` (issue 21): the same weights, raw values in
// and out.
LayerStack WithTransforms(const LayerStack& stack, StepTransforms transforms) {
  absl::StatusOr<LayerStack> copy =
      LayerStack::Create(stack.embedding(), stack.levels(), stack.head(), stack.go_backwards(),
                         stack.sequence_output(), std::move(transforms));
  EXPECT_TRUE(copy.ok()) << copy.status();
  return *std::move(copy);
}

StepTransforms SunspotLike(const LayerStack& stack) {
  std::vector<float> out_offset(stack.output_size());
  for (size_t j = 0; j < out_offset.size(); ++j) out_offset[j] = 40.0f + j;
  return {*StepTransform::Create(StepTransform::Side::kInput, {43.7f}, {34.1f}),
          *StepTransform::Create(StepTransform::Side::kOutput, out_offset, {34.1f})};
}

// The transformed model answers exactly out(model(in(x))) in every stepping
// mode, step after step, and its state is the plain model's: the transforms
// live in the model, never in a session's state.
void ExpectTransformsWrapTheModel(const LayerStack& plain) {
  const LayerStack raw = WithTransforms(plain, SunspotLike(plain));
  const StepTransform& in = *raw.input_transform();
  const StepTransform& out = *raw.output_transform();
  const int64_t steps = 9;
  const int width = plain.input_size(), outs = plain.output_size();
  std::vector<float> x(steps * width);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 5.0f * static_cast<float>(i % 23);
  std::vector<float> z(x.size());
  in.Apply(x.data(), z.data(), steps, width);

  std::vector<float> want(steps * outs), plain_state(plain.state_size());
  plain.InitState(plain_state.data());
  Workspace workspace;
  ASSERT_TRUE(
      plain
          .StepChunk(plain_state.data(), StepInput::Floats(z.data(), steps), want.data(), workspace)
          .ok());
  out.Apply(want.data(), want.data(), steps, outs);

  std::vector<float> got(steps * outs), state(raw.state_size());
  raw.InitState(state.data());
  ASSERT_TRUE(
      raw.StepChunk(state.data(), StepInput::Floats(x.data(), steps), got.data(), workspace).ok());
  EXPECT_EQ(got, want) << "StepChunk";
  EXPECT_EQ(state, plain_state) << "the state must not see the transforms";

  std::vector<float> one(outs), stepped(raw.state_size());
  raw.InitState(stepped.data());
  for (int64_t t = 0; t < steps; ++t) {
    float* states[] = {stepped.data()};
    ASSERT_TRUE(
        raw.Step(states, StepInput::Floats(x.data() + t * width, 1), one.data(), workspace).ok());
    for (int j = 0; j < outs; ++j) ASSERT_EQ(one[j], want[t * outs + j]) << "Step " << t;
  }
  EXPECT_EQ(stepped, plain_state) << "Step";

  // Session state export / import: the state bytes after 4 steps, copied
  // into another session, go on exactly; no transform needs to travel.
  std::vector<float> exported(raw.state_size()), part((steps - 4) * outs);
  raw.InitState(exported.data());
  ASSERT_TRUE(
      raw.StepChunk(exported.data(), StepInput::Floats(x.data(), 4), got.data(), workspace).ok());
  std::vector<float> imported = exported;
  ASSERT_TRUE(raw.StepChunk(imported.data(), StepInput::Floats(x.data() + 4 * width, steps - 4),
                            part.data(), workspace)
                  .ok());
  EXPECT_EQ(part, std::vector<float>(want.begin() + 4 * outs, want.end())) << "imported";

  const absl::StatusOr<RowMatrix> sequence = raw.RunSequence(StepInput::Floats(x.data(), steps));
  ASSERT_TRUE(sequence.ok()) << sequence.status();
  EXPECT_EQ(std::vector<float>(sequence->data(), sequence->data() + sequence->size()), want)
      << "RunSequence";
}

TEST(LayerStackTest, TransformsWrapAGruInEveryMode) {
  ExpectTransformsWrapTheModel(*Load("gru_2layer"));
}

TEST(LayerStackTest, TransformsWrapAnLstmWithoutHeadInEveryMode) {
  ExpectTransformsWrapTheModel(*Load("lstm_proj"));
}

TEST(LayerStackTest, JordanFeedsBackItsHeadOutputBeforeTheOutputTransform) {
  // The transform is outside the trained model: were the transformed output
  // fed back, steps after the first would differ from out(model(in(x))).
  ExpectTransformsWrapTheModel(*Load("jordan_tanh"));
}

TEST(LayerStackTest, TransformsThatDoNotFitAreRefused) {
  const auto tokens = Load("charlm");
  const absl::StatusOr<LayerStack> on_tokens = LayerStack::Create(
      tokens->embedding(), tokens->levels(), tokens->head(), false, SequenceOutput::kEveryStep,
      {*StepTransform::Create(StepTransform::Side::kInput, {1.0f}, {2.0f}), std::nullopt});
  EXPECT_THAT(on_tokens.status().message(), HasSubstr("applies to float inputs only"));
  const auto gru = Load("gru_1layer");  // 4 in, 5 out
  const absl::StatusOr<LayerStack> wide = LayerStack::Create(
      std::nullopt, gru->levels(), gru->head(), false, SequenceOutput::kEveryStep,
      {std::nullopt, *StepTransform::Create(StepTransform::Side::kOutput, {1, 2, 3}, {1})});
  EXPECT_THAT(wide.status().message(),
              HasSubstr("output transform has values for 3 features, want 1 (every feature) "
                        "or the output size 5"));
}

// Rows checked once (Check) step exactly as the unchecked entry points step
// them: StepChunks over each session's own checked rows, gathered by the
// stack, gives bit for bit what StepChunks over the time-major rows gives,
// with and without an input transform (applied to the gathered rows).
TEST(LayerStackTest, CheckedPartsStepAsTheTimeMajorInput) {
  constexpr int kSessions = 3;
  constexpr int kSteps = 4;
  for (const char* fixture : {"lstm_proj", "gru_2layer", "charlm", "sunspot-like"}) {
    SCOPED_TRACE(fixture);
    const bool transformed = std::string(fixture) == "sunspot-like";
    const auto loaded = Load(transformed ? "gru_2layer" : fixture);
    ASSERT_NE(loaded, nullptr);
    const LayerStack stack = transformed ? WithTransforms(*loaded, SunspotLike(*loaded)) : *loaded;
    const bool tokens = stack.input_kind() == InputKind::kTokens;
    const int in = stack.input_size(), out = stack.output_size();
    std::vector<std::vector<float>> x(kSessions);
    std::vector<std::vector<int64_t>> ids(kSessions);
    std::vector<float> time_major_x;
    std::vector<int64_t> time_major_ids;
    for (int b = 0; b < kSessions; ++b) {
      for (int i = 0; i < kSteps * in; ++i) x[b].push_back(0.37f * std::sin(0.7f * i + b));
      for (int t = 0; tokens && t < kSteps; ++t)
        ids[b].push_back((t * 5 + b) % stack.vocabulary_size());
    }
    for (int t = 0; t < kSteps; ++t) {
      for (int b = 0; b < kSessions; ++b) {
        time_major_x.insert(time_major_x.end(), x[b].begin() + t * in, x[b].begin() + (t + 1) * in);
        if (tokens) time_major_ids.push_back(ids[b][t]);
      }
    }
    std::vector<CheckedInput> parts;
    for (int b = 0; b < kSessions; ++b) {
      absl::StatusOr<CheckedInput> checked =
          stack.Check(tokens ? StepInput::Tokens(ids[b].data(), kSteps)
                             : StepInput::Floats(x[b].data(), kSteps));
      ASSERT_TRUE(checked.ok()) << checked.status();
      EXPECT_EQ(checked->checked_by(), &stack);
      parts.push_back(*checked);
    }
    std::vector<std::vector<float>> gathered(kSessions), plain(kSessions);
    std::vector<float*> gathered_states, plain_states;
    for (int b = 0; b < kSessions; ++b) {
      gathered[b].assign(stack.state_size(), 0.01f * b);
      plain[b] = gathered[b];
      gathered_states.push_back(gathered[b].data());
      plain_states.push_back(plain[b].data());
    }
    Workspace workspace;
    std::vector<float> want(kSteps * kSessions * out), got(want.size());
    const StepInput time_major = tokens
                                     ? StepInput::Tokens(time_major_ids.data(), kSteps * kSessions)
                                     : StepInput::Floats(time_major_x.data(), kSteps * kSessions);
    ASSERT_TRUE(stack.StepChunks(plain_states, kSteps, time_major, want.data(), workspace).ok());
    ASSERT_TRUE(stack.StepChunks(gathered_states, kSteps, parts, got.data(), workspace).ok());
    EXPECT_EQ(got, want);
    EXPECT_EQ(gathered, plain);
    // One part is read where it is; a prefix of checked rows is checked.
    std::vector<float> alone(kSteps * out), alone_state(stack.state_size(), 0.0f);
    std::vector<float> unchecked(kSteps * out), unchecked_state = alone_state;
    float* alone_states[] = {alone_state.data()};
    ASSERT_TRUE(
        stack.StepChunks(alone_states, 2, {parts[1].Rows(0, 2)}, alone.data(), workspace).ok());
    ASSERT_TRUE(
        stack.StepChunk(alone_state.data(), parts[1].Rows(2, 2), alone.data() + 2 * out, workspace)
            .ok());
    ASSERT_TRUE(stack
                    .StepChunk(unchecked_state.data(),
                               tokens ? StepInput::Tokens(ids[1].data(), kSteps)
                                      : StepInput::Floats(x[1].data(), kSteps),
                               unchecked.data(), workspace)
                    .ok());
    EXPECT_EQ(alone, unchecked);
    EXPECT_EQ(alone_state, unchecked_state);
  }
}

TEST(LayerStackTest, CheckRefusesWhatCheckInputRefuses) {
  const auto stack = Load("lstm_1layer");
  std::vector<float> x(2 * 4, 0.5f);
  x[6] = std::numeric_limits<float>::infinity();
  const absl::StatusOr<CheckedInput> checked = stack->Check(StepInput::Floats(x.data(), 2));
  EXPECT_EQ(checked.status(), stack->CheckInput(StepInput::Floats(x.data(), 2)));
  EXPECT_EQ(stack->Check(StepInput::Floats(x.data(), 0)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace rnnserve::model
