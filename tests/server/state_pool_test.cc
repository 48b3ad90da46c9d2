#include "server/state_pool.h"

#include <cstdint>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rnnserve::server {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<StatePool> MakePool(int64_t slot_floats, int64_t max_slots,
                                    int64_t chunk_bytes = StatePool::kDefaultChunkBytes) {
  absl::StatusOr<std::unique_ptr<StatePool>> pool = StatePool::Create(
      {.slot_floats = slot_floats, .max_slots = max_slots, .chunk_bytes = chunk_bytes});
  EXPECT_TRUE(pool.ok()) << pool.status();
  return *std::move(pool);
}

TEST(StatePoolTest, CreateRejectsNonPositiveSizes) {
  EXPECT_EQ(StatePool::Create({.slot_floats = 0, .max_slots = 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatePool::Create({.slot_floats = 1, .max_slots = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatePool::Create({.slot_floats = 1, .max_slots = 1, .chunk_bytes = 0})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(StatePoolTest, ChunkSizeFollowsBytesAndMaxSlots) {
  // 10 floats round up to a 64-byte stride: 1 MiB holds 16384 slots.
  EXPECT_EQ(MakePool(10, 1'000'000)->stride_floats(), 16);
  EXPECT_EQ(MakePool(10, 1'000'000)->slots_per_chunk(), 16384);
  EXPECT_EQ(MakePool(10, 3)->slots_per_chunk(), 3);
  // A state larger than a chunk still gets one slot per chunk.
  EXPECT_EQ(MakePool(1000, 10, 64)->slots_per_chunk(), 1);
}

TEST(StatePoolTest, ReusesReleasedSlots) {
  auto pool = MakePool(10, 100);
  float* a = *pool->Allocate();
  float* b = *pool->Allocate();
  EXPECT_NE(a, b);
  EXPECT_EQ(pool->live(), 2);
  pool->Release(a);
  EXPECT_EQ(pool->live(), 1);
  EXPECT_EQ(*pool->Allocate(), a);
  EXPECT_EQ(pool->capacity(), 100);  // one chunk, clamped to max_slots
  pool->Release(a);
  pool->Release(b);
  EXPECT_EQ(pool->live(), 0);
}

TEST(StatePoolTest, SlotsStayPutAndAlignedAsChunksGrow) {
  constexpr int64_t kFloats = 10;
  auto pool = MakePool(kFloats, 1000, /*chunk_bytes=*/256);  // 4 slots a chunk
  ASSERT_EQ(pool->slots_per_chunk(), 4);
  std::vector<float*> slots;
  for (int i = 0; i < 101; ++i) {
    absl::StatusOr<float*> slot = pool->Allocate();
    ASSERT_TRUE(slot.ok()) << slot.status();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(*slot) % StatePool::kAlignmentBytes, 0u);
    for (int64_t k = 0; k < kFloats; ++k) (*slot)[k] = static_cast<float>(i * 100 + k);
    slots.push_back(*slot);
  }
  EXPECT_EQ(pool->capacity(), 104);
  EXPECT_EQ(pool->live(), 101);
  EXPECT_EQ(std::set<float*>(slots.begin(), slots.end()).size(), slots.size());
  // Every slot still holds what was written: no chunk moved, no slot overlaps.
  for (int i = 0; i < 101; ++i) {
    for (int64_t k = 0; k < kFloats; ++k) {
      ASSERT_EQ(slots[i][k], static_cast<float>(i * 100 + k)) << "slot " << i;
    }
  }
  for (float* slot : slots) pool->Release(slot);
  EXPECT_EQ(pool->live(), 0);
  EXPECT_EQ(pool->capacity(), 104);  // chunks are kept for reuse
}

TEST(StatePoolTest, RefusesPastMaxSlots) {
  auto pool = MakePool(4, 5, /*chunk_bytes=*/128);  // 2 slots a chunk
  std::vector<float*> slots;
  for (int i = 0; i < 5; ++i) slots.push_back(*pool->Allocate());
  absl::StatusOr<float*> sixth = pool->Allocate();
  EXPECT_EQ(sixth.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(sixth.status().message(), HasSubstr("5"));
  EXPECT_LE(pool->capacity(), 6);
  pool->Release(slots.back());
  slots.back() = *pool->Allocate();
  EXPECT_EQ(pool->live(), 5);
  for (float* slot : slots) pool->Release(slot);
}

TEST(StatePoolTest, ConcurrentAllocateAndRelease) {
  auto pool = MakePool(8, 8 * 50, /*chunk_bytes=*/1024);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&pool, t] {
      std::vector<float*> mine;
      for (int round = 0; round < 200; ++round) {
        for (int i = 0; i < 50; ++i) {
          float* slot = *pool->Allocate();
          slot[7] = static_cast<float>(t);
          mine.push_back(slot);
        }
        for (float* slot : mine) {
          ASSERT_EQ(slot[7], static_cast<float>(t));
          pool->Release(slot);
        }
        mine.clear();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(pool->live(), 0);
  EXPECT_LE(pool->capacity(), 8 * 50 + pool->slots_per_chunk());
}

}  // namespace
}  // namespace rnnserve::server
