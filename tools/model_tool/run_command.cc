// rnnserve-model run: one sequence from .npy through a model, one output row
// per step, optionally continuing from and saving the recurrent state.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "model/importers/model_loader.h"
#include "model/importers/model_path.h"
#include "model/importers/model_repository.h"
#include "tools/model_tool/commands.h"
#include "util/npy.h"
#include "util/status_macros.h"

namespace rnnserve::model {
namespace {

// The input array as the model wants it: [T, input_size] floats, or [T] ids.
absl::StatusOr<StepInput> ViewInput(const LayerStack& stack, const util::NpyArray& array,
                                    const std::string& path) {
  const std::string got =
      absl::StrCat(path, " is ", ShapeToString(array.shape), " ",
                   array.kind == util::NpyArray::Kind::kFloat ? "float" : "integer");
  if (stack.input_kind() == InputKind::kTokens) {
    if (array.kind != util::NpyArray::Kind::kInteger || array.shape.size() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(got, ", want integer token ids [T] (the model starts with an embedding)"));
    }
    return StepInput::Tokens(array.integers.data(), array.shape[0]);
  }
  if (array.kind != util::NpyArray::Kind::kFloat || array.shape.size() != 2 ||
      array.shape[1] != stack.input_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(got, ", want float [T, ", stack.input_size(), "]"));
  }
  return StepInput::Floats(array.floats.data(), array.shape[0]);
}

// A model file's folder or a version folder as given; a model folder's newest
// version that loads, announced on stderr (stdout stays clean for pipes).
absl::StatusOr<LoadedModel> LoadForRun(const std::string& path, const LoadOptions& load) {
  RNN_ASSIGN_OR_RETURN(const ModelPath resolved, ResolveModelPath(path));
  switch (resolved.kind) {
    case ModelPathKind::kVersion:
      return LoadModel(resolved.folder, load);
    case ModelPathKind::kRepository:
      return absl::InvalidArgumentError(
          absl::StrCat(path, " is not a model: want ", AcceptedModelPaths()));
    case ModelPathKind::kModel:
      break;
  }
  RNN_ASSIGN_OR_RETURN(const ModelRepository repository,
                       ModelRepository::LoadModelFolder(resolved.folder, load));
  const std::vector<ModelVersion> versions = repository.List();
  if (versions.empty()) {
    std::string message = absl::StrCat("no version of ", path, " loads");
    for (const LoadProblem& p : repository.problems()) {
      absl::StrAppend(&message, "; version ", p.version, ": ", p.status.message());
    }
    return absl::NotFoundError(message);
  }
  std::cerr << "rnnserve-model run: " << versions.back().name << " version "
            << versions.back().version << "\n";
  return versions.back().model;
}

absl::StatusOr<std::vector<float>> InitialState(const LayerStack& stack,
                                                const std::string& path) {
  if (path.empty()) {
    std::vector<float> state(stack.state_size());
    stack.InitState(state.data());
    return state;
  }
  RNN_ASSIGN_OR_RETURN(util::NpyArray array, util::ReadNpy(path));
  if (array.kind != util::NpyArray::Kind::kFloat ||
      array.shape != std::vector<int64_t>{stack.state_size()}) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, " is ", ShapeToString(array.shape), ", want a float state [",
        stack.state_size(), "] written by --state-out for this model"));
  }
  return std::move(array.floats);
}

absl::Status Run(const RunOptions& options) {
  RNN_ASSIGN_OR_RETURN(LoadedModel model, LoadForRun(options.model, options.load));
  const LayerStack& stack = *model.stack;
  RNN_ASSIGN_OR_RETURN(util::NpyArray array, util::ReadNpy(options.input));
  RNN_ASSIGN_OR_RETURN(StepInput input, ViewInput(stack, array, options.input));
  RowMatrix outputs;
  if (stack.streamable()) {
    RNN_ASSIGN_OR_RETURN(std::vector<float> state, InitialState(stack, options.state_in));
    outputs.resize(input.rows, stack.output_size());
    Workspace workspace;
    RNN_RETURN_IF_ERROR(stack.StepChunk(state.data(), input, outputs.data(), workspace));
    if (!options.state_out.empty()) {
      RNN_RETURN_IF_ERROR(util::WriteNpy(options.state_out, {stack.state_size()}, state.data()));
    }
  } else {
    if (!options.state_in.empty() || !options.state_out.empty()) {
      return absl::InvalidArgumentError(
          "--state-in/--state-out need a streaming model; this one is "
          "bidirectional or go_backwards and runs whole sequences only");
    }
    RNN_ASSIGN_OR_RETURN(outputs, stack.RunSequence(input));
  }
  return util::WriteNpy(options.output, {outputs.rows(), outputs.cols()}, outputs.data());
}

}  // namespace

int RunCommand(const RunOptions& options) {
  const absl::Status status = Run(options);
  if (!status.ok()) {
    std::cerr << "rnnserve-model run: " << status << "\n";
    return 1;
  }
  return 0;
}

}  // namespace rnnserve::model
