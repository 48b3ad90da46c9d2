// Kernel benchmarks (issue 6, DESIGN.md section 6): rnnserve's LayerStack
// beside oneDNN's RNN primitive on the same shapes in the same run, plus the
// machine's limits. Not a test: nothing here asserts a time.
//
//   kernel/<model>/T<steps>/B<batch>/{rnnserve,onednn,ort}
//     B sessions advanced by T steps each in one call, the B sessions stepped
//     together at every step: LayerStack::StepChunks(), oneDNN's primitive
//     with [T, N = B] input, ONNX Runtime's LSTM / GRU nodes on [T, B] input
//     (PyTorch's export). T1 is one step of a batch (Step()), T32 a chunk
//     of 32 steps per session. per_session_step: seconds per session-step,
//     i.e. the call's time / (T * B).
//   paired/<model>/T<steps>/B<batch>
//     The comparison: rnnserve, each peer built in (oneDNN, ONNX Runtime) and
//     one read of the model's weights alternate in blocks of ~2 ms, and the
//     ratios are medians over neighbouring blocks, which saw the same load
//     from the machine's other tenants (independent medians swing by 20% on
//     a shared machine). rnnserve_over_best: over the faster peer per block.
//   precision/<model>/T<steps>/B<batch>
//     fp32, bf16 and int8 weights (issue 17) alternating in blocks of ~2 ms
//     as in paired/: seconds per session-step of each (medians) and the
//     medians of bf16 / fp32 and int8 / fp32 over neighbouring blocks.
//   roofline/read/<model>: one pass over a buffer the size of the model's
//     weights (B = 1 streams every weight once per step).
//   roofline/fma: the core's FMA peak.
//
// One thread: oneDNN is limited to 1 OpenMP thread, ONNX Runtime to one
// intra-op and one inter-op thread; times are process CPU time. tests/bench/kernel_report.py turns
// --benchmark_out JSON into the table of README "Performance".
#include <time.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "glog/logging.h"
#include "model/engine/layer_stack.h"
#include "model/kernels/kernel_isa.h"
#include "tests/bench/roofline.h"
#include "tests/model/random_stack.h"
#ifdef RNNSERVE_BENCH_ONEDNN
#include "tests/bench/onednn_rnn.h"
#endif
#ifdef RNNSERVE_BENCH_ORT
#include "tests/bench/ort_rnn.h"
#endif
#if defined(RNNSERVE_BENCH_ONEDNN) || defined(RNNSERVE_BENCH_ORT)
#define RNNSERVE_BENCH_PEERS
#endif

namespace rnnserve::bench {
namespace {

using ::rnnserve::model::testing::RandomMatrix;
using ::rnnserve::model::testing::RandomStack;

enum class Cell { kLstm, kGru };

struct Shape {
  std::string name;
  Cell cell;
  int input, hidden, layers;

  int gates() const { return cell == Cell::kLstm ? 4 : 3; }
  // Weight floats a step reads: every layer's input and recurrent matrices.
  int64_t input_weights() const { return int64_t{input} * gates() * hidden; }
  int64_t weights() const {
    return input_weights() + (int64_t{layers} * 2 - 1) * hidden * gates() * hidden;
  }
  double flops_per_session_step() const { return 2.0 * weights(); }
};

const std::vector<Shape>& Shapes() {
  static const auto* shapes = new std::vector<Shape>{
      {"LSTM_64x256x2", Cell::kLstm, 64, 256, 2},
      {"LSTM_128x512x1", Cell::kLstm, 128, 512, 1},
      {"GRU_64x256x2", Cell::kGru, 64, 256, 2},
  };
  return *shapes;
}

void SetCounters(benchmark::State& state, const Shape& shape, int batch, int steps) {
  state.counters["per_session_step"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * batch * steps,
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["weight_bytes"] = static_cast<double>(shape.weights() * 4);
  state.counters["input_weight_bytes"] = static_cast<double>(shape.input_weights() * 4);
  state.counters["flops_per_session_step"] = shape.flops_per_session_step();
}

model::LayerStack MakeStack(const Shape& shape, model::WeightPrecision precision) {
  const model::LayerStack stack =
      shape.cell == Cell::kLstm
          ? RandomStack<model::LstmCell>(shape.input, shape.hidden, shape.layers)
          : RandomStack<model::GruCell>(shape.input, shape.hidden, shape.layers);
  return precision == model::WeightPrecision::kFp32 ? stack : stack.WithWeights(precision);
}

// One StepChunks() call per Run(), states carried from call to call.
class RnnserveRun {
 public:
  RnnserveRun(const Shape& shape, int batch, int steps,
              model::WeightPrecision precision = model::WeightPrecision::kFp32)
      : stack_(MakeStack(shape, precision)),
        steps_(steps),
        states_(batch, std::vector<float>(stack_.state_size())),
        output_(steps * batch, stack_.output_size()) {
    for (auto& s : states_) pointers_.push_back(s.data());
    std::mt19937 rng(11);
    input_ = RandomMatrix(steps * batch, stack_.input_size(), rng);
    Run();  // grows the workspace (page faults) before anything is timed
  }

  void Run() {
    const auto x = model::StepInput::Floats(input_.data(), input_.rows());
    benchmark::DoNotOptimize(
        stack_.StepChunks(pointers_, steps_, x, output_.data(), workspace_));
    benchmark::ClobberMemory();
  }

 private:
  const model::LayerStack stack_;
  const int steps_;
  std::vector<std::vector<float>> states_;
  std::vector<float*> pointers_;
  model::RowMatrix input_;
  model::RowMatrix output_;
  model::Workspace workspace_;
};

// One pass over a buffer of the model's weight bytes per Run().
class WeightRead {
 public:
  explicit WeightRead(const Shape& shape) : words_(shape.weights() / 2, 1) {}
  void Run() { benchmark::DoNotOptimize(ReadAll(words_.data(), words_.size())); }
  int64_t bytes() const { return static_cast<int64_t>(words_.size()) * 8; }

 private:
  std::vector<uint64_t> words_;
};

void BM_Rnnserve(benchmark::State& state, const Shape& shape, int batch, int steps) {
  RnnserveRun run(shape, batch, steps);
  for (auto _ : state) run.Run();
  SetCounters(state, shape, batch, steps);
  state.SetLabel(model::KernelIsaName(model::DefaultKernelIsa()));
}

void BM_ReadWeights(benchmark::State& state, const Shape& shape) {
  WeightRead read(shape);
  for (auto _ : state) read.Run();
  state.counters["bytes_per_second"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * read.bytes(), benchmark::Counter::kIsRate);
  state.counters["weight_bytes"] = static_cast<double>(shape.weights() * 4);
}

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Seconds per Run() over a block of `runs`.
template <typename Runner>
double TimeBlock(Runner& runner, int runs) {
  const double start = CpuSeconds();
  for (int i = 0; i < runs; ++i) runner.Run();
  return (CpuSeconds() - start) / runs;
}

// Runs per block of about `seconds`.
template <typename Runner>
int BlockRuns(Runner& runner, double seconds) {
  const double once = std::max(TimeBlock(runner, 3), 1e-7);
  return std::max(1, static_cast<int>(seconds / once));
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

#ifdef RNNSERVE_BENCH_PEERS
// A library the kernel is compared with, behind one Run().
struct Peer {
  std::string name;
  std::string implementation;  // the benchmark's label, when the peer says
  std::function<void()> run;
  void Run() { run(); }
};

// The peers built in.
std::vector<std::string> PeerNames() {
  std::vector<std::string> names;
#ifdef RNNSERVE_BENCH_ONEDNN
  names.push_back("onednn");
#endif
#ifdef RNNSERVE_BENCH_ORT
  names.push_back("ort");
#endif
  return names;
}

// Peer `name` (one of PeerNames()), set up and run once (allocations, plans).
Peer MakePeer(const std::string& name, const Shape& shape, int batch, int steps) {
#ifdef RNNSERVE_BENCH_ONEDNN
  if (name == "onednn") {
    auto onednn = std::make_shared<OnednnRnn>(
        shape.cell == Cell::kLstm ? OnednnCell::kLstm : OnednnCell::kGru, shape.input, shape.hidden,
        shape.layers, batch, steps);
    onednn->Run();
    return {"onednn", onednn->implementation(), [onednn] { onednn->Run(); }};
  }
#endif
#ifdef RNNSERVE_BENCH_ORT
  if (name == "ort") {
    auto ort = std::make_shared<OrtRnn>(shape.cell == Cell::kLstm ? OrtCell::kLstm : OrtCell::kGru,
                                        shape.input, shape.hidden, shape.layers, batch, steps);
    ort->Run();
    return {"ort", "", [ort] { ort->Run(); }};
  }
#endif
  LOG(FATAL) << "no peer " << name;
}

// Every peer built in.
std::vector<Peer> MakePeers(const Shape& shape, int batch, int steps) {
  std::vector<Peer> peers;
  for (const std::string& name : PeerNames()) peers.push_back(MakePeer(name, shape, batch, steps));
  return peers;
}

// One peer's calls, timed as BM_Rnnserve's.
void BM_Peer(benchmark::State& state, const std::string& name, const Shape& shape, int batch,
             int steps) {
  Peer peer = MakePeer(name, shape, batch, steps);
  for (auto _ : state) {
    peer.Run();
    benchmark::ClobberMemory();
  }
  SetCounters(state, shape, batch, steps);
  if (!peer.implementation.empty()) state.SetLabel(peer.implementation);
}

// One iteration = one block each of rnnserve, every peer and the weight read.
void BM_Paired(benchmark::State& state, const Shape& shape, int batch, int steps) {
  constexpr double kBlockSeconds = 2e-3;
  RnnserveRun ours(shape, batch, steps);
  std::vector<Peer> peers = MakePeers(shape, batch, steps);
  WeightRead read(shape);
  const int ours_runs = BlockRuns(ours, kBlockSeconds);
  std::vector<int> peer_runs;
  for (Peer& peer : peers) peer_runs.push_back(BlockRuns(peer, kBlockSeconds));
  const int read_runs = BlockRuns(read, kBlockSeconds);
  const double session_steps = static_cast<double>(batch) * steps;
  std::vector<double> ours_s, read_s, vs_read, vs_best;
  std::vector<std::vector<double>> peer_s(peers.size()), vs_peer(peers.size());
  for (auto _ : state) {
    const double a = TimeBlock(ours, ours_runs) / session_steps;
    double best = 0.0;
    for (size_t p = 0; p < peers.size(); ++p) {
      const double b = TimeBlock(peers[p], peer_runs[p]) / session_steps;
      peer_s[p].push_back(b);
      vs_peer[p].push_back(a / b);
      best = p == 0 ? b : std::min(best, b);
    }
    const double c = TimeBlock(read, read_runs);
    ours_s.push_back(a);
    read_s.push_back(c);
    vs_read.push_back(a / c);
    vs_best.push_back(a / best);
  }
  state.counters["rnnserve_per_session_step"] = Median(ours_s);
  for (size_t p = 0; p < peers.size(); ++p) {
    state.counters[peers[p].name + "_per_session_step"] = Median(peer_s[p]);
    state.counters["rnnserve_over_" + peers[p].name] = Median(vs_peer[p]);
  }
  state.counters["rnnserve_over_best"] = Median(vs_best);
  state.counters["weight_read"] = Median(read_s);
  // A session-step against one pass over the weights: the memory roofline
  // of B = 1, T = 1, where every step streams every weight from L3.
  state.counters["rnnserve_over_weight_read"] = Median(vs_read);
  state.counters["weight_bytes"] = static_cast<double>(shape.weights() * 4);
  state.counters["input_weight_bytes"] = static_cast<double>(shape.input_weights() * 4);
  state.counters["flops_per_session_step"] = shape.flops_per_session_step();
  state.SetLabel(peers[0].implementation);
}
#endif

// One iteration = one block each of fp32, bf16 and int8 weights.
void BM_Precisions(benchmark::State& state, const Shape& shape, int batch, int steps) {
  constexpr double kBlockSeconds = 2e-3;
  RnnserveRun fp32(shape, batch, steps, model::WeightPrecision::kFp32);
  RnnserveRun bf16(shape, batch, steps, model::WeightPrecision::kBf16);
  RnnserveRun int8(shape, batch, steps, model::WeightPrecision::kInt8);
  const int fp32_runs = BlockRuns(fp32, kBlockSeconds);
  const int bf16_runs = BlockRuns(bf16, kBlockSeconds);
  const int int8_runs = BlockRuns(int8, kBlockSeconds);
  const double session_steps = static_cast<double>(batch) * steps;
  std::vector<double> fp32_s, bf16_s, int8_s, bf16_ratio, int8_ratio;
  for (auto _ : state) {
    const double a = TimeBlock(fp32, fp32_runs) / session_steps;
    const double b = TimeBlock(bf16, bf16_runs) / session_steps;
    const double c = TimeBlock(int8, int8_runs) / session_steps;
    fp32_s.push_back(a);
    bf16_s.push_back(b);
    int8_s.push_back(c);
    bf16_ratio.push_back(b / a);
    int8_ratio.push_back(c / a);
  }
  state.counters["fp32_per_session_step"] = Median(fp32_s);
  state.counters["bf16_per_session_step"] = Median(bf16_s);
  state.counters["int8_per_session_step"] = Median(int8_s);
  state.counters["bf16_over_fp32"] = Median(bf16_ratio);
  state.counters["int8_over_fp32"] = Median(int8_ratio);
  state.SetLabel(model::KernelIsaName(model::DefaultKernelIsa()));
}

void BM_FmaPeak(benchmark::State& state) {
  constexpr int64_t kIterations = 1 << 16;
  double flops = 0.0;
  float sink = 0.0f;
  for (auto _ : state) {
    flops += FmaLoop(kIterations, &sink);
    benchmark::DoNotOptimize(sink);
  }
  state.counters["flops_per_second"] = benchmark::Counter(flops, benchmark::Counter::kIsRate);
}

// Pairs of blocks per paired benchmark: ~6 ms each, ~0.4 s per shape.
constexpr int kPairs = 61;

void RegisterAll() {
  for (const Shape& shape : Shapes()) {
    for (int steps : {1, 32}) {
      for (int batch : {1, 8, 64, 256}) {
        const std::string name = absl::StrCat("kernel/", shape.name, "/T", steps, "/B", batch);
        benchmark::RegisterBenchmark((name + "/rnnserve").c_str(), BM_Rnnserve, shape, batch,
                                     steps)
            ->MeasureProcessCPUTime()
            ->Unit(benchmark::kMicrosecond);
#ifdef RNNSERVE_BENCH_PEERS
        for (const std::string& peer : PeerNames()) {
          benchmark::RegisterBenchmark((name + "/" + peer).c_str(), BM_Peer, peer, shape, batch,
                                       steps)
              ->MeasureProcessCPUTime()
              ->Unit(benchmark::kMicrosecond);
        }
#endif
#ifdef RNNSERVE_BENCH_PEERS
        benchmark::RegisterBenchmark(
            absl::StrCat("paired/", shape.name, "/T", steps, "/B", batch).c_str(), BM_Paired,
            shape, batch, steps)
            ->Iterations(kPairs)
            ->Repetitions(1)
            ->MeasureProcessCPUTime()
            ->Unit(benchmark::kMillisecond);
#endif
      }
    }
    for (int batch : {1, 64}) {
      benchmark::RegisterBenchmark(absl::StrCat("precision/", shape.name, "/T1/B", batch).c_str(),
                                   BM_Precisions, shape, batch, 1)
          ->Iterations(kPairs)
          ->Repetitions(1)
          ->MeasureProcessCPUTime()
          ->Unit(benchmark::kMillisecond);
    }
    benchmark::RegisterBenchmark(("roofline/read/" + shape.name).c_str(), BM_ReadWeights,
                                 shape)
        ->MeasureProcessCPUTime()
        ->Unit(benchmark::kMicrosecond);
  }
  benchmark::RegisterBenchmark("roofline/fma", BM_FmaPeak)
      ->MeasureProcessCPUTime()
      ->Unit(benchmark::kMicrosecond);
}

}  // namespace
}  // namespace rnnserve::bench

int main(int argc, char** argv) {
  using namespace rnnserve;
#ifdef RNNSERVE_BENCH_ONEDNN
  bench::LimitOnednnThreads(1);
  benchmark::AddCustomContext("onednn", bench::OnednnDescription());
#else
  benchmark::AddCustomContext("onednn", "not built (CMake found no oneDNN)");
#endif
#ifdef RNNSERVE_BENCH_ORT
  benchmark::AddCustomContext("onnxruntime", bench::OrtDescription());
#else
  benchmark::AddCustomContext("onnxruntime", "not built (no RNNSERVE_BENCH_ORT_LIBRARY)");
#endif
  benchmark::AddCustomContext("rnnserve_kernel",
                              model::KernelIsaName(model::DefaultKernelIsa()));
  bench::RegisterAll();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
