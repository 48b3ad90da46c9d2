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
  const absl::StatusOr<LoadedModel> model = LoadModel(TestdataPath("model/" + GetParam()));
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
                         ::testing::Values("lstm_proj", "lstm_peephole_clip", "gru_2layer",
                                           "gru_reset_before", "rnn_tanh", "jordan_tanh",
                                           "charlm"));

// The benchmark shape, where Eigen's matrix products use their largest
// packing buffers (EIGEN_STACK_ALLOCATION_LIMIT keeps them off the heap).
template <typename CellT>
void ExpectLargeStepsAllocateNothing() {
  const LayerStack stack = testing::RandomStack<CellT>(64, 256, 2);
  constexpr int kBatch = 256;
  constexpr int kChunk = 64;
  std::vector<std::vector<float>> states(kBatch, std::vector<float>(stack.state_size(), 0.0f));
  std::vector<float*> pointers;
  for (auto& s : states) pointers.push_back(s.data());
  const std::vector<float> x(kBatch * stack.input_size(), 0.5f);
  std::vector<float> out(kBatch * stack.output_size());
  Workspace workspace;
  ASSERT_TRUE(stack.Step(pointers, StepInput::Floats(x.data(), kBatch), out.data(), workspace).ok());
  ASSERT_TRUE(stack.StepChunk(pointers[0], StepInput::Floats(x.data(), kChunk), out.data(),
                              workspace).ok());
  AllocationCounter counter;
  for (int batch : {kBatch, 1, 8, 64}) {
    ASSERT_TRUE(stack.Step(absl::MakeSpan(pointers).first(batch),
                           StepInput::Floats(x.data(), batch), out.data(), workspace).ok());
  }
  ASSERT_TRUE(stack.StepChunk(pointers[0], StepInput::Floats(x.data(), kChunk), out.data(),
                              workspace).ok());
  EXPECT_EQ(counter.count(), 0);
}

TEST(NoAllocationTest, LargeLstmStepsAllocateNothing) {
  ExpectLargeStepsAllocateNothing<LstmCell>();
}

TEST(NoAllocationTest, LargeGruStepsAllocateNothing) {
  ExpectLargeStepsAllocateNothing<GruCell>();
}

}  // namespace
}  // namespace rnnserve::model
