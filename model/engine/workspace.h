// Scratch memory for stepping a model on one thread. Buffers only grow: after
// the first step of the largest batch or chunk a thread sees, stepping
// allocates nothing. Not thread-safe: one Workspace per thread.
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

  // At least `size` floats; contents are unspecified.
  float* Get(Slot slot, int64_t size) {
    std::vector<float>& buffer = buffers_[slot];
    if (static_cast<int64_t>(buffer.size()) < size) buffer.resize(size);
    return buffer.data();
  }

 private:
  std::array<std::vector<float>, kNumSlots> buffers_;
};

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_ENGINE_WORKSPACE_H_
