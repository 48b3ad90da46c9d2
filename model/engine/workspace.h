// Scratch memory for stepping a model on one thread, and which way its next
// step reads the recurrent weights. Buffers only grow: after the first step
// of the largest batch or chunk a thread sees, stepping allocates nothing.
// Not thread-safe: one Workspace per thread.
#ifndef RNNSERVE_MODEL_ENGINE_WORKSPACE_H_
#define RNNSERVE_MODEL_ENGINE_WORKSPACE_H_

#include <array>
#include <cstdint>
#include <vector>

namespace rnnserve::model {

class Workspace {
 public:
  enum Slot {
    kLayerA,      // layer inputs and outputs, ping-ponged between layers
    kLayerB,
    kProjected,   // x W_x + b_x for every row of a layer's input
    kRecurrent,   // the recurrent input gathered from the sessions' states
    kCell,        // the LSTM cell states gathered from the sessions' states
    kCellOutput,  // a cell's h_t before any feedback (projection, Jordan head)
    kScratch,
    kScratch2,
    kNumSlots,
  };

  // Whether the next step reads the weight panels backwards. Steps alternate,
  // within a chunk and from one call to the next, so each starts on the
  // weights the step before read last, still in cache: a model whose
  // weights about fill the cache, stepped forwards every time, would evict
  // each panel just before it is needed (LRU thrash). Results are the same
  // either way (gemm_kernels.h's PanelOrder).
  bool backwards_next() const { return backwards_next_; }
  // `steps` steps were taken, in alternating order from backwards_next().
  void Stepped(int64_t steps) { backwards_next_ ^= (steps % 2 != 0); }

  // At least `size` floats; contents are unspecified.
  float* Get(Slot slot, int64_t size) {
    std::vector<float>& buffer = buffers_[slot];
    if (static_cast<int64_t>(buffer.size()) < size) buffer.resize(size);
    return buffer.data();
  }

 private:
  std::array<std::vector<float>, kNumSlots> buffers_;
  bool backwards_next_ = false;
};

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_ENGINE_WORKSPACE_H_
