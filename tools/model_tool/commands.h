// The subcommands of the offline tool rnnserve-model. Each returns the
// process exit code and prints its own errors: 0 success, 1 a model, file or
// input problem, 2 a usage error.
#ifndef RNNSERVE_TOOLS_MODEL_TOOL_COMMANDS_H_
#define RNNSERVE_TOOLS_MODEL_TOOL_COMMANDS_H_

#include <optional>
#include <string>

#include "model/importers/model_loader.h"

namespace rnnserve::model {

// Describes `path`, whichever ResolveModelPath() says it is: a model file
// (model.onnx, config.json, ...) or a model version folder (architecture,
// sizes, state size, parameter count, fingerprint); a model folder
// ROOT/<name> (its versions, then the newest one in full); a repository root
// (a table of every loaded version, then the problems; exit code 1 when
// nothing loads). Anything else fails saying what is accepted.
// `load` applies to every model it loads (--weights).
int InspectCommand(const std::string& path, const LoadOptions& load = {});

struct RunOptions {
  std::string model;   // a model file or version folder, or a model folder (newest)
  std::string input;   // .npy float32 [T, input_size] or integer [T] tokens
  std::string output;  // .npy float32 [T, output_size]
  std::string state_in;   // optional .npy float32 [state_size]
  std::string state_out;  // optional, written after the run
  LoadOptions load;       // --weights
};

// Runs one sequence through the model, one output row per step.
int RunCommand(const RunOptions& options);

}  // namespace rnnserve::model

#endif  // RNNSERVE_TOOLS_MODEL_TOOL_COMMANDS_H_
