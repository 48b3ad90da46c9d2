#include "tests/bench/onednn_rnn.h"

#include <omp.h>

#include <random>
#include <unordered_map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace rnnserve::bench {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using Dims = memory::dims;
using Args = std::unordered_map<int, memory>;

memory RandomMemory(const memory::desc& desc, const dnnl::engine& engine, std::mt19937& rng) {
  memory m(desc, engine);
  std::uniform_real_distribution<float> uniform(-0.1f, 0.1f);
  float* data = static_cast<float*>(m.get_data_handle());
  for (size_t i = 0; i < desc.get_size() / sizeof(float); ++i) data[i] = uniform(rng);
  return m;
}

// One layer: the primitive, its weights in oneDNN's chosen layout, and two
// sets of state buffers that swap roles every Run() (src and dst iter must
// not be the same memory).
struct Layer {
  dnnl::primitive primitive;
  std::string implementation;
  Args args[2];
};

}  // namespace

struct OnednnRnn::Impl {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::vector<memory> activations;  // layer l reads [l], writes [l + 1]
  std::vector<Layer> layers;
  int parity = 0;
};

OnednnRnn::OnednnRnn(OnednnCell cell, int input, int hidden, int layers, int batch,
                     int steps)
    : impl_(std::make_unique<Impl>()) {
  const bool lstm = cell == OnednnCell::kLstm;
  const int gates = lstm ? 4 : 3;
  const int bias_gates = 4;  // LSTM one per gate; LBR GRU r, z, n and b_hn apart
  const dnnl::engine& engine = impl_->engine;
  std::mt19937 rng(3);
  const auto dt = memory::data_type::f32;
  for (int l = 0; l <= layers; ++l) {
    const int channels = l == 0 ? input : hidden;
    impl_->activations.push_back(
        RandomMemory({{steps, batch, channels}, dt, Tag::tnc}, engine, rng));
  }
  for (int l = 0; l < layers; ++l) {
    const int in = l == 0 ? input : hidden;
    const memory::desc src_layer({steps, batch, in}, dt, Tag::tnc);
    const memory::desc dst_layer({steps, batch, hidden}, dt, Tag::tnc);
    const memory::desc iter({1, 1, batch, hidden}, dt, Tag::ldnc);
    const memory::desc weights_layer_any({1, 1, in, gates, hidden}, dt, Tag::any);
    const memory::desc weights_iter_any({1, 1, hidden, gates, hidden}, dt, Tag::any);
    const memory::desc bias({1, 1, bias_gates, hidden}, dt, Tag::ldgo);
    const auto prop = dnnl::prop_kind::forward_inference;
    const auto direction = dnnl::rnn_direction::unidirectional_left2right;

    Layer layer;
    memory::desc weights_layer_desc, weights_iter_desc;
    if (lstm) {
      dnnl::lstm_forward::primitive_desc pd(
          dnnl::lstm_forward::desc(prop, direction, src_layer, iter, iter,
                                   weights_layer_any, weights_iter_any, bias, dst_layer,
                                   iter, iter),
          engine);
      layer.primitive = dnnl::lstm_forward(pd);
      layer.implementation = pd.impl_info_str();
      weights_layer_desc = pd.weights_layer_desc();
      weights_iter_desc = pd.weights_iter_desc();
    } else {
      dnnl::lbr_gru_forward::primitive_desc pd(
          dnnl::lbr_gru_forward::desc(prop, direction, src_layer, iter, weights_layer_any,
                                      weights_iter_any, bias, dst_layer, iter),
          engine);
      layer.primitive = dnnl::lbr_gru_forward(pd);
      layer.implementation = pd.impl_info_str();
      weights_layer_desc = pd.weights_layer_desc();
      weights_iter_desc = pd.weights_iter_desc();
    }
    // User weights in ldigo, reordered once into the primitive's layout.
    auto packed = [&](const memory::desc& user_desc, const memory::desc& desc) {
      memory user = RandomMemory(user_desc, engine, rng);
      memory m(desc, engine);
      dnnl::reorder(user, m).execute(impl_->stream, user, m);
      impl_->stream.wait();  // `user` goes away on return
      return m;
    };
    const memory w_layer =
        packed({{1, 1, in, gates, hidden}, dt, Tag::ldigo}, weights_layer_desc);
    const memory w_iter =
        packed({{1, 1, hidden, gates, hidden}, dt, Tag::ldigo}, weights_iter_desc);
    const memory b = RandomMemory(bias, engine, rng);
    const memory h[2] = {RandomMemory(iter, engine, rng), RandomMemory(iter, engine, rng)};
    const memory c[2] = {RandomMemory(iter, engine, rng), RandomMemory(iter, engine, rng)};
    for (int p = 0; p < 2; ++p) {
      Args& args = layer.args[p];
      args = {{DNNL_ARG_SRC_LAYER, impl_->activations[l]},
              {DNNL_ARG_DST_LAYER, impl_->activations[l + 1]},
              {DNNL_ARG_WEIGHTS_LAYER, w_layer},
              {DNNL_ARG_WEIGHTS_ITER, w_iter},
              {DNNL_ARG_BIAS, b},
              {DNNL_ARG_SRC_ITER, h[p]},
              {DNNL_ARG_DST_ITER, h[1 - p]}};
      if (lstm) {
        args[DNNL_ARG_SRC_ITER_C] = c[p];
        args[DNNL_ARG_DST_ITER_C] = c[1 - p];
      }
    }
    impl_->layers.push_back(std::move(layer));
  }
  impl_->stream.wait();
}

OnednnRnn::~OnednnRnn() = default;

void OnednnRnn::Run() {
  for (Layer& layer : impl_->layers) {
    layer.primitive.execute(impl_->stream, layer.args[impl_->parity]);
  }
  impl_->stream.wait();
  impl_->parity = 1 - impl_->parity;
}

std::string OnednnRnn::implementation() const { return impl_->layers[0].implementation; }

void LimitOnednnThreads(int threads) { omp_set_num_threads(threads); }

std::string OnednnDescription() {
  const dnnl_version_t* v = dnnl_version();
  return absl::StrCat("oneDNN ", v->major, ".", v->minor, ".", v->patch, " (",
                      v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other runtime", ", ",
                      omp_get_max_threads(), " thread(s))");
}

}  // namespace rnnserve::bench
