// The per-step path allocates nothing (DESIGN.md section 6): once a
// Workspace has grown to a shape, Step() and StepChunk() never call malloc.
// This binary interposes malloc to count the calls made on this thread.

#include <cstdlib>
#include <vector>

#include "gtest/gtest.h"
#include "model/model_loader.h"
#include "tests/model/random_stack.h"
#include "tests/model/test_util.h"

extern "C" void* __libc_malloc(size_t size);

namespace {
thread_local bool counting = false;
thread_local int allocations = 0;
}  // namespace

// Every allocation (operator new, Eigen's aligned_malloc) ends up here.
extern "C" void* malloc(size_t size) {
  if (counting) ++allocations;
  return __libc_malloc(size);
}

namespace rnnserve::model {
namespace {

using ::rnnserve::model::testing::TestdataPath;

class AllocationCounter {
 public:
  AllocationCounter() {
    allocations = 0;
    counting = true;
  }
  ~AllocationCounter() { counting = false; }
  int count() const { return allocations; }
};

TEST(NoAllocationTest, CounterSeesAllocations) {
  AllocationCounter counter;
  std::vector<float>* v = new std::vector<float>(100);
  delete v;
  EXPECT_GE(counter.count(), 2);
}

class NoAllocationFixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(NoAllocationFixtureTest, StepsAllocateNothingAfterWarmUp) {
  const absl::StatusOr<LoadedModel> model = LoadModel(TestdataPath(GetParam()));
  ASSERT_TRUE(model.ok()) << model.status();
  const LayerStack& stack = *model->stack;
  constexpr int kBatch = 64;
  constexpr int kChunk = 32;
  std::vector<std::vector<float>> states(kBatch, std::vector<float>(stack.state_size(), 0.0f));
  std::vector<float*> pointers;
  for (auto& s : states) pointers.push_back(s.data());
  std::vector<float> floats(kChunk * stack.input_size() + kBatch * stack.input_size(), 0.25f);
  std::vector<int64_t> tokens(kBatch + kChunk, 1);
  auto input = [&](int rows) {
    return stack.input_kind() == InputKind::kTokens ? StepInput::Tokens(tokens.data(), rows)
                                                    : StepInput::Floats(floats.data(), rows);
  };
  std::vector<float> out((kBatch + kChunk) * stack.output_size());
  Workspace workspace;
  // Warm-up: the workspace grows to the largest shape once.
  ASSERT_TRUE(stack.Step(pointers, input(kBatch), out.data(), workspace).ok());
  ASSERT_TRUE(stack.StepChunk(pointers[0], input(kChunk), out.data(), workspace).ok());

  AllocationCounter counter;
  for (int round = 0; round < 3; ++round) {
    for (int batch : {kBatch, 1, 17}) {
      ASSERT_TRUE(stack.Step(absl::MakeSpan(pointers).first(batch), input(batch), out.data(),
                             workspace).ok());
    }
    ASSERT_TRUE(stack.StepChunk(pointers[1], input(kChunk), out.data(), workspace).ok());
    ASSERT_TRUE(stack.StepChunk(pointers[2], input(3), out.data(), workspace).ok());
  }
  EXPECT_EQ(counter.count(), 0);
}

INSTANTIATE_TEST_SUITE_P(Cells, NoAllocationFixtureTest,
                         ::testing::Values("model/lstm_proj", "model/lstm_peephole_clip",
                                           "model/gru_2layer", "model/gru_reset_before",
                                           "model/rnn_tanh", "model/jordan_tanh", "model/charlm",
                                           // Input and output transforms (issue 21).
                                           "transform/native_lstm_per_feature",
                                           "transform/onnx_gru_scalar"));

// The benchmark shapes, hidden 512 included: the packed kernels take no
// buffers of their own (Eigen's products used to take packing buffers from the
// stack or, past EIGEN_STACK_ALLOCATION_LIMIT, the heap), and B sessions
// stepped T steps at once (StepChunks) allocate nothing either.
template <typename CellT>
void ExpectLargeStepsAllocateNothing(int input, int hidden, int layers) {
  const LayerStack stack = testing::RandomStack<CellT>(input, hidden, layers);
  constexpr int kBatch = 256;
  constexpr int kChunk = 64;
  constexpr int kChunkBatch = 8;
  std::vector<std::vector<float>> states(kBatch, std::vector<float>(stack.state_size(), 0.0f));
  std::vector<float*> pointers;
  for (auto& s : states) pointers.push_back(s.data());
  const std::vector<float> x(kBatch * kChunk * stack.input_size(), 0.5f);
  std::vector<float> out(kBatch * kChunk * stack.output_size());
  const auto floats = [&](int rows) { return StepInput::Floats(x.data(), rows); };
  const auto first = [&](int batch) { return absl::MakeSpan(pointers).first(batch); };
  Workspace workspace;
  ASSERT_TRUE(stack.Step(pointers, floats(kBatch), out.data(), workspace).ok());
  ASSERT_TRUE(stack.StepChunk(pointers[0], floats(kChunk), out.data(), workspace).ok());
  ASSERT_TRUE(stack.StepChunks(first(kBatch), kChunk, floats(kBatch * kChunk), out.data(),
                               workspace).ok());
  AllocationCounter counter;
  for (int batch : {kBatch, 1, 8, 13, 64}) {
    ASSERT_TRUE(stack.Step(first(batch), floats(batch), out.data(), workspace).ok());
  }
  ASSERT_TRUE(stack.StepChunk(pointers[0], floats(kChunk), out.data(), workspace).ok());
  ASSERT_TRUE(stack.StepChunks(first(kChunkBatch), kChunk, floats(kChunkBatch * kChunk),
                               out.data(), workspace).ok());
  EXPECT_EQ(counter.count(), 0);
}

TEST(NoAllocationTest, LargeLstmStepsAllocateNothing) {
  ExpectLargeStepsAllocateNothing<LstmCell>(64, 256, 2);
}

TEST(NoAllocationTest, WideLstmStepsAllocateNothing) {
  ExpectLargeStepsAllocateNothing<LstmCell>(128, 512, 1);
}

TEST(NoAllocationTest, LargeGruStepsAllocateNothing) {
  ExpectLargeStepsAllocateNothing<GruCell>(64, 256, 2);
}

}  // namespace
}  // namespace rnnserve::model
