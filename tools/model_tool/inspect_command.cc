// rnnserve-model inspect: what a model is, in a form people read.
// A PATH may be a model file, one model version, a model folder of versions or
// a whole repository (ResolveModelPath decides).
#include <algorithm>
#include <iostream>
#include <variant>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "model/importers/model_loader.h"
#include "model/importers/model_path.h"
#include "model/importers/model_repository.h"
#include "tools/model_tool/commands.h"

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

// An LSTM projection is a bias-free identity dense map; a Jordan head may be
// either, but then it has an activation or a bias.
bool IsProjection(const DenseHead& feedback) {
  return !feedback.has_bias() && feedback.activation() == HeadActivation::kIdentity;
}

std::string DescribeLayer(const RecurrentLayer& layer) {
  std::string text = absl::StrCat(layer.input_size(), " -> hidden ", layer.hidden_size());
  if (layer.feedback().has_value()) {
    absl::StrAppend(&text, " -> fed back ", layer.output_size(), " (",
                    IsProjection(*layer.feedback()) ? "projection" : "dense head, Jordan",
                    ")");
  }
  absl::StrAppend(&text, "; ", DescribeCell(layer.cell()));
  return text;
}

// The description of one model version, one "key: value" line per aspect.
void PrintModel(const LoadedModel& model) {
  const LayerStack& stack = *model.stack;
  const ModelInfo& info = model.info;
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
  // Raw values in and out (issue 21): the maps outside the trained layers.
  if (stack.input_transform().has_value()) {
    std::cout << "input map:   " << stack.input_transform()->ToString() << "\n";
  }
  if (stack.output_transform().has_value()) {
    std::cout << "output map:  " << stack.output_transform()->ToString() << "\n";
  }
  std::cout << absl::StrFormat("output:      float32 [T, %d]\n", stack.output_size());
  if (stack.sequence_output() == SequenceOutput::kFinalState) {
    // ONNX Y_h, Keras return_sequences=False: a step still answers every step.
    std::cout << absl::StrFormat(
        "             whole-sequence call: the final step's row only, [1, %d]\n",
        stack.output_size());
  }
  std::cout << absl::StrFormat("state:       %d floats (%d bytes) per session\n",
                               stack.state_size(), stack.state_size() * 4);
  std::cout << absl::StrFormat("streaming:   %s\n",
                               stack.streamable() ? "yes"
                                                  : "no (whole sequences only)");
  std::cout << absl::StrFormat("parameters:  %d\n", info.parameter_count);
  std::cout << absl::StrFormat("weights:     %s, %d bytes packed\n",
                               WeightPrecisionName(info.weights), info.weight_bytes);
  std::cout << absl::StrFormat("fingerprint: %s\n", info.fingerprint);
}

void PrintProblems(const std::vector<LoadProblem>& problems) {
  if (problems.empty()) return;
  std::cout << "\nproblems:    " << problems.size() << "\n";
  for (const LoadProblem& p : problems) {
    const std::string where =
        p.version.empty() ? p.name : absl::StrCat(p.name, " version ", p.version);
    std::cout << "  " << where << ": " << p.status << "\n";
  }
}

// ROOT/<name>: the newest loaded version in full, and which versions exist.
int InspectModelFolder(const std::string& path, const LoadOptions& load) {
  absl::StatusOr<ModelRepository> repository = ModelRepository::LoadModelFolder(path, load);
  if (!repository.ok()) {
    std::cerr << "rnnserve-model: " << repository.status() << "\n";
    return 1;
  }
  const std::vector<ModelVersion> versions = repository->List();
  if (versions.empty()) {
    PrintProblems(repository->problems());
    std::cerr << "rnnserve-model: no version of " << path << " loads\n";
    return 1;
  }
  const ModelVersion& newest = versions.back();
  std::vector<int> numbers;
  for (const ModelVersion& v : versions) numbers.push_back(v.version);
  std::cout << absl::StrFormat("name:        %s\nversions:    %s (showing the newest, %d)\n",
                               newest.name, absl::StrJoin(numbers, ", "), newest.version);
  PrintModel(newest.model);
  PrintProblems(repository->problems());
  return 0;
}

std::string ShortFingerprint(absl::string_view fingerprint) {
  absl::ConsumePrefix(&fingerprint, "sha256:");
  return std::string(fingerprint.substr(0, 12));
}

std::vector<std::string> TableRow(const ModelVersion& v) {
  const ModelInfo& info = v.model.info;
  const LayerStack& stack = *v.model.stack;
  std::string layers = absl::StrCat(info.num_layers, "x", info.hidden_size);
  if (info.proj_size > 0) absl::StrAppend(&layers, " proj ", info.proj_size);
  if (info.bidirectional) absl::StrAppend(&layers, " bidir");
  return {v.name,
          absl::StrCat(v.version),
          info.format,
          info.cell,
          layers,
          stack.input_kind() == InputKind::kTokens
              ? absl::StrCat("vocab ", stack.vocabulary_size())
              : absl::StrCat("float[", stack.input_size(), "]"),
          absl::StrCat(stack.output_size()),
          absl::StrCat(info.parameter_count),
          ShortFingerprint(info.fingerprint)};
}

// Left-aligned columns two spaces apart.
void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      absl::StrAppend(&line, row[c], std::string(widths[c] - row[c].size() + 2, ' '));
    }
    std::cout << absl::StripTrailingAsciiWhitespace(line) << "\n";
  }
}

// A repository root: one table row per loaded version, then the problems.
int InspectRepository(const std::string& path, const LoadOptions& load) {
  absl::StatusOr<ModelRepository> repository = ModelRepository::Load(path, nullptr, load);
  if (!repository.ok()) {
    std::cerr << "rnnserve-model: " << repository.status() << "\n";
    return 1;
  }
  const std::vector<ModelVersion> versions = repository->List();
  std::cout << absl::StrFormat("repository:  %s, %d model versions loaded, %d problems\n\n",
                               path, versions.size(), repository->problems().size());
  std::vector<std::vector<std::string>> rows = {{"NAME", "VERSION", "FORMAT", "CELL",
                                                 "LAYERSxHIDDEN", "INPUT", "OUTPUT", "PARAMETERS",
                                                 "FINGERPRINT"}};
  for (const ModelVersion& v : versions) rows.push_back(TableRow(v));
  if (!versions.empty()) PrintTable(rows);
  PrintProblems(repository->problems());
  if (versions.empty()) {
    std::cerr << "rnnserve-model: no model in " << path
              << " loads; want ROOT/<name>/<version>/ model folders\n";
    return 1;
  }
  return 0;
}

}  // namespace

int InspectCommand(const std::string& path, const LoadOptions& load) {
  const absl::StatusOr<ModelPath> resolved = ResolveModelPath(path);
  if (!resolved.ok()) {
    std::cerr << "rnnserve-model: " << resolved.status() << "\n";
    return 1;
  }
  switch (resolved->kind) {
    case ModelPathKind::kModel:
      return InspectModelFolder(resolved->folder, load);
    case ModelPathKind::kRepository:
      return InspectRepository(resolved->folder, load);
    case ModelPathKind::kVersion:
      break;
  }
  absl::StatusOr<LoadedModel> model = LoadModel(resolved->folder, load);
  if (!model.ok()) {
    std::cerr << "rnnserve-model: cannot load " << path << ": " << model.status() << "\n";
    return 1;
  }
  PrintModel(*model);
  return 0;
}

}  // namespace rnnserve::model
