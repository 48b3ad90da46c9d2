// EvictionCandidates keeps the least recently used of what a scan offers and
// hands them out oldest first.
#include "server/eviction_candidates.h"

#include <algorithm>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace rnnserve::server {
namespace {

std::vector<int64_t> TakeAll(EvictionCandidates& candidates) {
  std::vector<int64_t> taken;
  while (auto oldest = candidates.TakeOldest()) {
    EXPECT_EQ(oldest->id, absl::StrCat("s", oldest->last_used_ns));
    taken.push_back(oldest->last_used_ns);
  }
  return taken;
}

TEST(EvictionCandidatesTest, KeepsTheOldestOfAScanAndHandsThemOutOldestFirst) {
  std::vector<int64_t> used(1000);
  for (int i = 0; i < 1000; ++i) used[i] = 1000 + 7 * i;
  std::shuffle(used.begin(), used.end(), std::mt19937(5));
  EvictionCandidates candidates(16);
  candidates.BeginScan();
  for (int64_t ns : used) candidates.Offer(ns, absl::StrCat("s", ns));
  candidates.Finish();
  EXPECT_EQ(candidates.newest_ns(), 1000 + 7 * 15);
  std::vector<int64_t> want(16);
  for (int i = 0; i < 16; ++i) want[i] = 1000 + 7 * i;
  EXPECT_EQ(TakeAll(candidates), want);
  EXPECT_TRUE(candidates.empty());
  EXPECT_FALSE(candidates.TakeOldest().has_value());
}

TEST(EvictionCandidatesTest, ANewScanForgetsTheLastOne) {
  EvictionCandidates candidates(4);
  candidates.BeginScan();
  for (int64_t ns : {5, 3, 9}) candidates.Offer(ns, absl::StrCat("s", ns));
  candidates.Finish();
  EXPECT_EQ(candidates.newest_ns(), 9);  // fewer than the capacity: all kept
  EXPECT_EQ(candidates.TakeOldest()->last_used_ns, 3);
  candidates.BeginScan();
  EXPECT_EQ(candidates.newest_ns(), std::numeric_limits<int64_t>::min());
  for (int64_t ns : {8, 6}) candidates.Offer(ns, absl::StrCat("s", ns));
  candidates.Finish();
  EXPECT_EQ(TakeAll(candidates), (std::vector<int64_t>{6, 8}));
}

}  // namespace
}  // namespace rnnserve::server
