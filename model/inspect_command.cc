// rnnserve-model inspect: what a model is, in a form people read.
#include <iostream>
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/commands.h"
#include "model/model_loader.h"

namespace rnnserve::model {
namespace {

std::string ClipText(float clip) { return clip > 0 ? absl::StrCat(clip) : "none"; }

std::string DescribeCell(const RecurrentLayer::Cell& cell) {
  struct Visitor {
    std::string operator()(const LstmCell& c) const {
      const LstmOptions& o = c.options();
      return absl::StrCat("lstm gates i,f,g,o; gate ", ActivationToString(o.gate),
                          ", cell ", ActivationToString(o.cell), ", output ",
                          ActivationToString(o.output), "; clip ", ClipText(o.clip),
                          "; peephole ", c.weights().peephole.size() ? "yes" : "no",
                          "; input_forget ", o.input_forget ? "yes" : "no");
    }
    std::string operator()(const GruCell& c) const {
      const GruOptions& o = c.options();
      return absl::StrCat("gru gates r,z,n; gate ", ActivationToString(o.gate),
                          ", candidate ", ActivationToString(o.candidate), "; reset ",
                          o.reset == GruReset::kAfterProduct ? "after" : "before",
                          " the recurrent product; clip ", ClipText(o.clip));
    }
    std::string operator()(const RnnCell& c) const {
      return absl::StrCat("rnn; activation ", ActivationToString(c.options().activation),
                          "; clip ", ClipText(c.options().clip));
    }
  };
  return std::visit(Visitor{}, cell);
}

std::string DescribeLayer(const RecurrentLayer& layer) {
  std::string text = absl::StrCat(layer.input_size(), " -> hidden ", layer.hidden_size());
  if (layer.feedback().has_value()) {
    absl::StrAppend(&text, " -> fed back ", layer.output_size(), " (",
                    layer.feedback()->has_bias() ? "dense head, Jordan" : "projection",
                    ")");
  }
  absl::StrAppend(&text, "; ", DescribeCell(layer.cell()));
  return text;
}

}  // namespace

int InspectCommand(const std::string& path) {
  absl::StatusOr<LoadedModel> model = LoadModel(path);
  if (!model.ok()) {
    std::cerr << "rnnserve-model: cannot load " << path << ": " << model.status() << "\n";
    return 1;
  }
  const LayerStack& stack = *model->stack;
  const ModelInfo& info = model->info;
  std::cout << absl::StrFormat("model:       %s\nformat:      %s\n", info.path, info.format);
  if (stack.input_kind() == InputKind::kTokens) {
    std::cout << absl::StrFormat("input:       token ids [T], vocabulary %d, embedding %d\n",
                                 stack.vocabulary_size(), stack.input_size());
  } else {
    std::cout << absl::StrFormat("input:       float32 [T, %d]\n", stack.input_size());
  }
  std::cout << absl::StrFormat("layers:      %d x %s, hidden %d%s%s%s\n", info.num_layers,
                               info.cell, info.hidden_size,
                               info.proj_size ? absl::StrCat(", proj ", info.proj_size) : "",
                               info.bidirectional ? ", bidirectional" : "",
                               stack.go_backwards() ? ", go_backwards" : "");
  for (size_t k = 0; k < stack.levels().size(); ++k) {
    const LayerLevel& level = stack.levels()[k];
    std::cout << "  layer " << k << ":   " << DescribeLayer(level.forward) << "\n";
    if (level.backward.has_value()) {
      std::cout << "  layer " << k << "r:  " << DescribeLayer(*level.backward) << "\n";
    }
  }
  if (stack.head().has_value()) {
    const DenseHead& head = *stack.head();
    std::cout << absl::StrFormat("head:        dense %d -> %d, %s\n", head.input_size(),
                                 head.output_size(), HeadActivationName(head.activation()));
  }
  std::cout << absl::StrFormat("output:      float32 [T, %d]\n", stack.output_size());
  std::cout << absl::StrFormat("state:       %d floats (%d bytes) per session\n",
                               stack.state_size(), stack.state_size() * 4);
  std::cout << absl::StrFormat("streaming:   %s\n",
                               stack.streamable() ? "yes"
                                                  : "no (whole sequences only)");
  std::cout << absl::StrFormat("parameters:  %d\n", info.parameter_count);
  return 0;
}

}  // namespace rnnserve::model
