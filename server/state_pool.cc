#include "server/state_pool.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "server/model_ref.h"

namespace rnnserve::server {

namespace {

constexpr int64_t kAlignmentFloats = StatePool::kAlignmentBytes / sizeof(float);
static_assert(StatePool::kAlignmentBytes >= sizeof(float*),
              "a free slot must hold the free list's next pointer");

}  // namespace

void StatePool::AlignedDelete::operator()(float* p) const {
  ::operator delete[](p, std::align_val_t{kAlignmentBytes});
}

absl::StatusOr<std::unique_ptr<StatePool>> StatePool::Create(const Options& options) {
  if (options.slot_floats <= 0 || options.max_slots <= 0 || options.chunk_bytes <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("state pool: slot_floats, max_slots and chunk_bytes must be > 0, got ",
                     options.slot_floats, ", ", options.max_slots, ", ", options.chunk_bytes));
  }
  const int64_t stride =
      (options.slot_floats + kAlignmentFloats - 1) / kAlignmentFloats * kAlignmentFloats;
  const int64_t stride_bytes = stride * static_cast<int64_t>(sizeof(float));
  const int64_t per_chunk =
      std::clamp<int64_t>(options.chunk_bytes / stride_bytes, 1, options.max_slots);
  return std::unique_ptr<StatePool>(
      new StatePool(options.slot_floats, stride, options.max_slots, per_chunk));
}

StatePool::StatePool(int64_t slot_floats, int64_t stride_floats, int64_t max_slots,
                     int64_t slots_per_chunk)
    : slot_floats_(slot_floats),
      stride_floats_(stride_floats),
      max_slots_(max_slots),
      slots_per_chunk_(slots_per_chunk),
      next_fresh_(slots_per_chunk) {}  // no chunk yet: the first Allocate adds one

StatePool::~StatePool() {
  absl::MutexLock lock(&mu_);
  // A leaked slot would dangle once the chunks go; that is a caller's bug.
  CHECK_EQ(live_, 0) << "state pool destroyed with live slots";
}

absl::StatusOr<float*> StatePool::Allocate() {
  absl::MutexLock lock(&mu_);
  if (live_ >= max_slots_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "state pool full: ", max_slots_, " session states of ", slot_floats_, " floats are live"));
  }
  float* slot;
  if (free_head_ != nullptr) {
    slot = free_head_;
    std::memcpy(&free_head_, slot, sizeof(float*));
  } else {
    if (next_fresh_ == slots_per_chunk_) {
      // Capacity stays <= max_slots_ rounded up to a chunk; past that every
      // allocated slot is live or on the free list, so the check above holds.
      const size_t floats = static_cast<size_t>(slots_per_chunk_ * stride_floats_);
      chunks_.emplace_back(static_cast<float*>(
          ::operator new[](floats * sizeof(float), std::align_val_t{kAlignmentBytes})));
      next_fresh_ = 0;
    }
    slot = chunks_.back().get() + next_fresh_ * stride_floats_;
    ++next_fresh_;
  }
  ++live_;
  return slot;
}

void StatePool::Release(float* slot) {
  CHECK(slot != nullptr);
  absl::MutexLock lock(&mu_);
  CHECK_GT(live_, 0) << "StatePool::Release without a live slot";
  std::memcpy(slot, &free_head_, sizeof(float*));
  free_head_ = slot;
  --live_;
  ++releases_;
}

const ModelRef& StatePool::Bind(const ModelRef& model) {
  CHECK(model.pool == this) << "model " << model.name << " binds to another pool";
  absl::MutexLock lock(&mu_);
  for (const std::unique_ptr<const ModelRef>& bound : bindings_) {
    if (bound->name == model.name && bound->version == model.version &&
        bound->stack == model.stack && bound->metrics == model.metrics) {
      return *bound;
    }
  }
  return *bindings_.emplace_back(std::make_unique<const ModelRef>(model));
}

int64_t StatePool::releases() const {
  absl::MutexLock lock(&mu_);
  return releases_;
}

int64_t StatePool::live() const {
  absl::MutexLock lock(&mu_);
  return live_;
}

int64_t StatePool::capacity() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(chunks_.size()) * slots_per_chunk_;
}

}  // namespace rnnserve::server
