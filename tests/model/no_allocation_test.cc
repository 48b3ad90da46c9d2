// The per-step path allocates nothing (DESIGN.md section 6): once a
// Workspace has grown to a shape, Step(), StepChunk() and StepChunks() never
// allocate. allocation_counter.cc replaces every allocation entry point
// (malloc and its relatives, every operator new) to count the calls made on
// this thread.

#include <cstdlib>
#include <functional>
#include <memory>
#include <new>
#include <vector>

#include "gtest/gtest.h"
#include "model/engine/tensor.h"
#include "model/importers/model_loader.h"
#include "tests/model/allocation_counter.h"
#include "tests/model/random_stack.h"
#include "tests/model/test_util.h"

namespace rnnserve::model {
namespace {

using ::rnnserve::model::testing::AllocationCounter;
using ::rnnserve::model::testing::TestdataPath;

// Where the allocations below escape to, so the compiler cannot elide a
// new/delete or malloc/free pair.
void *volatile escape;

struct AllocationCase {
  const char *name;
  std::function<void()> allocate_and_free;
};

// Each entry point once, as the step path could reach it: directly, through
// the standard library, or through Eigen's aligned allocator.
std::vector<AllocationCase> AllocationCases() {
  return {
      {"malloc",
       [] {
         escape = std::malloc(24);
         std::free(escape);
       }},
      {"calloc",
       [] {
         escape = std::calloc(3, 8);
         std::free(escape);
       }},
      {"realloc",
       [] {
         escape = std::realloc(nullptr, 24);
         std::free(escape);
       }},
      {"posix_memalign",
       [] {
         void *p = nullptr;
         ASSERT_EQ(posix_memalign(&p, 64, 24), 0);
         escape = p;
         std::free(p);
       }},
      {"aligned_alloc",
       [] {
         escape = std::aligned_alloc(64, 64);
         std::free(escape);
       }},
      {"operator new",
       [] {
         escape = ::operator new(24);
         ::operator delete(escape);
       }},
      {"operator new[]",
       [] {
         escape = ::operator new[](24);
         ::operator delete[](escape);
       }},
      {"nothrow new",
       [] {
         escape = ::operator new(24, std::nothrow);
         ::operator delete(escape);
       }},
      {"aligned new",
       [] {
         escape = ::operator new (24, std::align_val_t{64});
         ::operator delete (escape, std::align_val_t{64});
       }},
      {"aligned new[]",
       [] {
         escape = ::operator new[](24, std::align_val_t{64});
         ::operator delete[](escape, std::align_val_t{64});
       }},
      {"aligned nothrow new",
       [] {
         escape = ::operator new (24, std::align_val_t{64}, std::nothrow);
         ::operator delete (escape, std::align_val_t{64});
       }},
      {"over-aligned type",
       [] {
         struct alignas(64) Block {
           float lanes[16];
         };
         auto block = std::make_unique<Block>();
         escape = block.get();
       }},
      {"std::vector",
       [] {
         std::vector<float> v(100);
         escape = v.data();
       }},
  };
}

TEST(NoAllocationTest, CounterSeesEveryAllocationEntryPoint) {
  for (const AllocationCase &c : AllocationCases()) {
    AllocationCounter counter;
    c.allocate_and_free();
    EXPECT_EQ(counter.count(), 1) << c.name;
  }
}

TEST(NoAllocationTest, CounterSeesEigenAllocations) {
  AllocationCounter counter;
  RowMatrix m(7, 9);
  escape = m.data();
  EXPECT_EQ(counter.count(), 1);
}

class NoAllocationFixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(NoAllocationFixtureTest, StepsAllocateNothingAfterWarmUp) {
  const absl::StatusOr<LoadedModel> model = LoadModel(TestdataPath(GetParam()));
  ASSERT_TRUE(model.ok()) << model.status();
  const LayerStack &stack = *model->stack;
  constexpr int kBatch = 64;
  constexpr int kChunk = 32;
  std::vector<std::vector<float>> states(kBatch, std::vector<float>(stack.state_size(), 0.0f));
  std::vector<float *> pointers;
  for (auto &s : states) pointers.push_back(s.data());
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
      ASSERT_TRUE(
          stack.Step(absl::MakeSpan(pointers).first(batch), input(batch), out.data(), workspace)
              .ok());
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
void ExpectLargeStepsAllocateNothing(int input, int hidden, int layers,
                                     WeightPrecision precision = WeightPrecision::kFp32) {
  const LayerStack stack =
      testing::RandomStack<CellT>(input, hidden, layers).WithWeights(precision);
  constexpr int kBatch = 256;
  constexpr int kChunk = 64;
  constexpr int kChunkBatch = 8;
  std::vector<std::vector<float>> states(kBatch, std::vector<float>(stack.state_size(), 0.0f));
  std::vector<float *> pointers;
  for (auto &s : states) pointers.push_back(s.data());
  const std::vector<float> x(kBatch * kChunk * stack.input_size(), 0.5f);
  std::vector<float> out(kBatch * kChunk * stack.output_size());
  const auto floats = [&](int rows) { return StepInput::Floats(x.data(), rows); };
  const auto first = [&](int batch) { return absl::MakeSpan(pointers).first(batch); };
  Workspace workspace;
  ASSERT_TRUE(stack.Step(pointers, floats(kBatch), out.data(), workspace).ok());
  ASSERT_TRUE(stack.StepChunk(pointers[0], floats(kChunk), out.data(), workspace).ok());
  ASSERT_TRUE(
      stack.StepChunks(first(kBatch), kChunk, floats(kBatch * kChunk), out.data(), workspace).ok());
  AllocationCounter counter;
  for (int batch : {kBatch, 1, 8, 13, 64}) {
    ASSERT_TRUE(stack.Step(first(batch), floats(batch), out.data(), workspace).ok());
  }
  ASSERT_TRUE(stack.StepChunk(pointers[0], floats(kChunk), out.data(), workspace).ok());
  ASSERT_TRUE(stack
                  .StepChunks(first(kChunkBatch), kChunk, floats(kChunkBatch * kChunk), out.data(),
                              workspace)
                  .ok());
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

// bf16 and int8 weights (issue 17): int8 quantises x into a buffer on the
// stack, never the heap.
TEST(NoAllocationTest, LowPrecisionStepsAllocateNothing) {
  for (WeightPrecision precision : {WeightPrecision::kBf16, WeightPrecision::kInt8}) {
    SCOPED_TRACE(WeightPrecisionName(precision));
    ExpectLargeStepsAllocateNothing<LstmCell>(64, 256, 2, precision);
    ExpectLargeStepsAllocateNothing<GruCell>(64, 256, 2, precision);
  }
}

}  // namespace
}  // namespace rnnserve::model
