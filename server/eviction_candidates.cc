#include "server/eviction_candidates.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace rnnserve::server {
namespace {

constexpr auto kUsedEarlier = [](const EvictionCandidates::Candidate& a,
                                 const EvictionCandidates::Candidate& b) {
  return a.last_used_ns < b.last_used_ns;
};

}  // namespace

EvictionCandidates::EvictionCandidates(size_t capacity)
    : capacity_(std::max<size_t>(capacity, 1)) {}

void EvictionCandidates::BeginScan() { kept_.clear(); }

void EvictionCandidates::Offer(int64_t last_used_ns, absl::string_view id) {
  if (kept_.size() < capacity_) {
    kept_.push_back({last_used_ns, std::string(id)});
  } else if (last_used_ns < kept_.front().last_used_ns) {
    // The newest kept gives way; its place (and its id's buffer) is reused.
    std::pop_heap(kept_.begin(), kept_.end(), kUsedEarlier);
    kept_.back().last_used_ns = last_used_ns;
    kept_.back().id.assign(id.data(), id.size());
  } else {
    return;
  }
  std::push_heap(kept_.begin(), kept_.end(), kUsedEarlier);
}

void EvictionCandidates::Finish() {
  std::sort_heap(kept_.begin(), kept_.end(), kUsedEarlier);  // oldest first
  std::reverse(kept_.begin(), kept_.end());
}

int64_t EvictionCandidates::newest_ns() const {
  return kept_.empty() ? std::numeric_limits<int64_t>::min() : kept_.front().last_used_ns;
}

std::optional<EvictionCandidates::Candidate> EvictionCandidates::TakeOldest() {
  if (kept_.empty()) return std::nullopt;
  Candidate oldest = std::move(kept_.back());
  kept_.pop_back();
  return oldest;
}

}  // namespace rnnserve::server
