// rnnserve-model: the offline tool. `inspect PATH` describes a model version,
// a model folder or a repository; `run --model PATH --input IN.npy --output
// OUT.npy` runs one sequence.
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "tools/model_tool/commands.h"

ABSL_FLAG(std::string, model, "",
          "a model file (model.onnx, config.json; a Keras .keras or .h5 file of any name), a "
          "model version folder, or a model "
          "folder ROOT/<name> (its newest version); inspect also takes a repository root, "
          "and takes PATH as --model or as its argument");
ABSL_FLAG(std::string, input, "",
          "run: input .npy, float32 [T, input_size] or integer [T] token ids");
ABSL_FLAG(std::string, output, "", "run: output .npy, float32 [T, output_size]");
ABSL_FLAG(std::string, state_in, "",
          "run: start from this state (.npy float32 [state_size]) instead of zeros");
ABSL_FLAG(std::string, state_out, "", "run: write the final state here (.npy)");
ABSL_FLAG(std::string, weights, "",
          "inspect, run: pack the weights as fp32, bf16 or int8 (as the server's --weights); "
          "empty: the model's own");

namespace {

constexpr char kUsage[] =
    "rnnserve-model: inspect and run recurrent models offline.\n"
    "\n"
    "  rnnserve-model inspect PATH          (or inspect --model PATH)\n"
    "  rnnserve-model run --model PATH --input IN.npy --output OUT.npy\n"
    "                     [--state_in S.npy] [--state_out S.npy]\n"
    "\n"
    "PATH is one of\n"
    "  a model file             model.onnx, config.json or model.safetensors: the\n"
    "                           version folder holding it\n"
    "  a Keras file             *.keras (Keras 3) or *.h5 (legacy Keras\n"
    "                           model.save()), any name: the model itself\n"
    "  a model version folder   model.onnx, model.keras, model.h5, or\n"
    "                           config.json + model.safetensors\n"
    "  a model folder           ROOT/<name>, holding version folders 1/, 2/, ...:\n"
    "                           its newest version that loads\n"
    "  a repository root        ROOT, holding model folders (inspect only: a table\n"
    "                           of every model version and every one that fails)\n"
    "\n"
    "Flags may be spelled with - or _ (--state-in == --state_in).\n"
    "Exit codes: 0 success, 1 model/file/input error, 2 usage error.";

int UsageError(const std::string& message) {
  std::cerr << "rnnserve-model: " << message << "\n\n" << kUsage << "\n";
  return 2;
}

// absl flags are spelled with underscores; accept the dashed spelling too.
std::vector<char*> NormalizeFlagNames(int argc, char** argv, std::vector<std::string>& storage) {
  storage.assign(argv, argv + argc);
  std::vector<char*> out;
  for (std::string& arg : storage) {
    if (arg.rfind("--", 0) == 0) {
      for (size_t i = 2; i < arg.size() && arg[i] != '='; ++i) {
        if (arg[i] == '-') arg[i] = '_';
      }
    }
    out.push_back(arg.data());
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  std::vector<std::string> storage;
  std::vector<char*> args = NormalizeFlagNames(argc, argv, storage);
  const std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  if (positional.size() < 2) return UsageError("missing command: inspect or run");
  const std::string command = positional[1];
  rnnserve::model::LoadOptions load;
  if (const std::string weights = absl::GetFlag(FLAGS_weights); !weights.empty()) {
    rnnserve::model::WeightPrecision precision;
    if (!rnnserve::model::ParseWeightPrecision(weights, &precision)) {
      return UsageError("--weights wants fp32, bf16 or int8");
    }
    load.weights = precision;
  }
  if (command == "inspect") {
    // The path as an argument, or as --model like run takes it.
    const std::string model = absl::GetFlag(FLAGS_model);
    if (positional.size() + (model.empty() ? 0 : 1) != 3) {
      return UsageError("inspect takes exactly one PATH (as its argument or as --model)");
    }
    return rnnserve::model::InspectCommand(model.empty() ? positional[2] : model, load);
  }
  if (command == "run") {
    if (positional.size() != 2) return UsageError("run takes no positional arguments");
    rnnserve::model::RunOptions options{
        .model = absl::GetFlag(FLAGS_model),
        .input = absl::GetFlag(FLAGS_input),
        .output = absl::GetFlag(FLAGS_output),
        .state_in = absl::GetFlag(FLAGS_state_in),
        .state_out = absl::GetFlag(FLAGS_state_out),
        .load = load,
    };
    if (options.model.empty() || options.input.empty() || options.output.empty()) {
      return UsageError("run needs --model, --input and --output");
    }
    return rnnserve::model::RunCommand(options);
  }
  return UsageError("unknown command \"" + command + "\"; want inspect or run");
}
