// oneDNN's RNN primitive on the benchmark shapes, the peer the kernel is
// measured against (issue 6). Built only when CMake finds oneDNN
// (Debian libdnnl-dev); nothing in the engine depends on it.
#ifndef RNNSERVE_TESTS_BENCH_ONEDNN_RNN_H_
#define RNNSERVE_TESTS_BENCH_ONEDNN_RNN_H_

#include <memory>
#include <string>

namespace rnnserve::bench {

enum class OnednnCell {
  kLstm,  // lstm_forward: gates i, f, c~, o like rnnserve's LSTM
  kGru,   // lbr_gru_forward: reset after the product, like PyTorch's GRU
};

// A stack of `layers` single-layer forward-inference primitives (oneDNN's
// multi-layer form needs input == hidden), weights in the layout oneDNN picks
// (reordered once, as rnnserve packs once), random values. Each Run() advances
// `batch` sessions by `steps` steps from the states the previous Run() left,
// like a stateful server. Single thread: call LimitOnednnThreads(1) first.
class OnednnRnn {
 public:
  OnednnRnn(OnednnCell cell, int input, int hidden, int layers, int batch, int steps);
  ~OnednnRnn();

  void Run();
  // The implementation oneDNN chose for the first layer, e.g. "ref:any" or a
  // jit name: a reference implementation would make the comparison unfair.
  std::string implementation() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Caps oneDNN's OpenMP threads (Debian builds it with the OMP runtime).
void LimitOnednnThreads(int threads);
// "oneDNN 2.6.3 (OMP, 1 thread)".
std::string OnednnDescription();

}  // namespace rnnserve::bench

#endif  // RNNSERVE_TESTS_BENCH_ONEDNN_RNN_H_
