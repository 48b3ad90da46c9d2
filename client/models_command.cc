// `models` and `model NAME`: what the server serves, as a table or JSON.
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/channel.h"
#include "client/command.h"
#include "client/common_flags.h"
#include "client/errors.h"
#include "client/model_info.h"
#include "client/proto_json.h"
#include "client/text_table.h"
#include "rnnserve/v1/models.grpc.pb.h"
#include "util/status_macros.h"

namespace rnnserve::client {
namespace {

// "sha256:0123456789ab": enough to tell versions apart in a table.
std::string ShortFingerprint(const std::string& fingerprint) {
  const size_t colon = fingerprint.find(':');
  return fingerprint.substr(0, colon == std::string::npos ? 12 : colon + 13);
}

// "(x - 43.7267) / 34.0611", "y * [3 values] + [3 values]", or "none": as
// rnnserve-model inspect prints a model's transforms.
std::string DescribeTransform(const v1::StepTransform& t, bool input_side) {
  if (t.offset().empty() && t.scale().empty()) return "none";
  const auto values = [](const google::protobuf::RepeatedField<float>& v) {
    if (v.size() == 1) return absl::StrCat(v[0]);
    if (v.size() <= 4) return absl::StrCat("[", absl::StrJoin(v, ", "), "]");
    return absl::StrCat("[", v.size(), " values]");
  };
  return input_side ? absl::StrCat("(x - ", values(t.offset()), ") / ", values(t.scale()))
                    : absl::StrCat("y * ", values(t.scale()), " + ", values(t.offset()));
}

absl::Status RunModels(const CommandLine& line) {
  if (!line.positional.empty()) return UsageError("models takes no arguments");
  RNN_ASSIGN_OR_RETURN(const std::shared_ptr<grpc::Channel> channel, ChannelFromFlags());
  v1::ListModelsResponse response;
  grpc::ClientContext context;
  PrepareContext(context, absl::GetFlag(FLAGS_timeout));
  const grpc::Status status =
      v1::ModelService::NewStub(channel)->ListModels(&context, v1::ListModelsRequest(), &response);
  if (!status.ok()) return RpcError("ListModels", status);
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << ToJson(response) << "\n";
    return absl::OkStatus();
  }
  TextTable table({"NAME", "VERSION", "CELL", "LAYERS", "HIDDEN", "INPUT", "OUTPUT", "STREAM",
                   "PARAMS", "FORMAT", "FINGERPRINT"});
  for (const v1::ModelInfo& m : response.models()) {
    table.AddRow({m.model().name(), absl::StrCat(m.model().version()), m.cell(),
                  absl::StrCat(m.num_layers()), absl::StrCat(m.hidden_size()), InputSummary(m),
                  absl::StrCat(m.output_size()), m.streamable() ? "yes" : "no",
                  absl::StrCat(m.parameter_count()), m.format(),
                  ShortFingerprint(m.fingerprint())});
  }
  table.Print(std::cout);
  return absl::OkStatus();
}

absl::Status RunModel(const CommandLine& line) {
  if (line.positional.size() != 1) return UsageError("model takes one argument, the NAME");
  RNN_ASSIGN_OR_RETURN(const std::shared_ptr<grpc::Channel> channel, ChannelFromFlags());
  RNN_ASSIGN_OR_RETURN(const v1::ModelInfo m, DescribeModel(channel, line.positional[0],
                                                            absl::GetFlag(FLAGS_model_version),
                                                            absl::GetFlag(FLAGS_timeout)));
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << ToJson(m) << "\n";
    return absl::OkStatus();
  }
  TextTable table({"FIELD", "VALUE"});
  table.AddRow({"name", m.model().name()});
  table.AddRow({"version", absl::StrCat(m.model().version())});
  table.AddRow({"versions", absl::StrJoin(m.versions(), ", ")});
  table.AddRow({"format", m.format()});
  table.AddRow({"cell", m.cell()});
  table.AddRow({"layers", absl::StrCat(m.num_layers())});
  table.AddRow({"hidden_size", absl::StrCat(m.hidden_size())});
  table.AddRow({"proj_size", absl::StrCat(m.proj_size())});
  table.AddRow({"bidirectional", m.bidirectional() ? "yes" : "no"});
  table.AddRow({"input", TakesTokens(m) ? "token ids, one per step" : "floats"});
  table.AddRow({"input_size", absl::StrCat(m.input_size())});
  table.AddRow({"vocabulary_size", absl::StrCat(m.vocabulary_size())});
  table.AddRow({"output_size", absl::StrCat(m.output_size())});
  table.AddRow({"input_map", DescribeTransform(m.input_transform(), /*input_side=*/true)});
  table.AddRow({"output_map", DescribeTransform(m.output_transform(), /*input_side=*/false)});
  table.AddRow({"state_size", absl::StrCat(m.state_size(), " floats (", m.state_size() * 4,
                                           " bytes a session)")});
  table.AddRow({"streamable", m.streamable() ? "yes" : "no (whole sequences only)"});
  table.AddRow({"parameters", absl::StrCat(m.parameter_count())});
  table.AddRow({"fingerprint", m.fingerprint()});
  table.Print(std::cout);
  return absl::OkStatus();
}

}  // namespace

const Command& ModelsCommand() {
  static const Command* const command = new Command{
      .name = "models",
      .synopsis = "models [--json]",
      .summary = "List the models the server serves, one row per loaded version.",
      .details = "--json prints the ListModelsResponse in the proto3 JSON mapping.\n",
      .flags = {"json"},
      .run = RunModels,
  };
  return *command;
}

const Command& ModelCommand() {
  static const Command* const command = new Command{
      .name = "model",
      .synopsis = "model NAME [--model_version V] [--json]",
      .summary = "Describe one model: cell, sizes, input kind, state size, fingerprint.",
      .details = "--json prints the ModelInfo message in the proto3 JSON mapping.\n",
      .flags = {"json", "model_version"},
      .run = RunModel,
  };
  return *command;
}

}  // namespace rnnserve::client
