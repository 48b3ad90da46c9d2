// `generate`: text from a character model through one session. The prompt
// goes in as one chunk; then each sampled character is printed at once and
// fed back as the session's next step, so each step costs one recurrent step
// on the server, never a re-read of the text so far.
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "client/channel.h"
#include "client/command.h"
#include "client/common_flags.h"
#include "client/errors.h"
#include "client/model_info.h"
#include "client/step_caller.h"
#include "client/token_sampler.h"
#include "client/vocabulary.h"
#include "util/status_macros.h"

ABSL_FLAG(std::string, prompt, "", "the text the generated characters continue (required)");
ABSL_FLAG(int64_t, length, 200, "how many characters to generate");
ABSL_FLAG(double, temperature, 0.8,
          "0 always picks the most likely character; 1 samples the model's distribution; "
          "higher is wilder");
ABSL_FLAG(std::string, vocab, "",
          "JSON file with the model's characters: its config.json (metadata.vocabulary, "
          "metadata.unknown_id), {\"vocabulary\": \"...\", \"unknown_id\": N}, or a list of "
          "strings. Empty: the demo charlm's, as its model card states (tab, newline, ASCII "
          "0x20-0x7E; id 97 unknown)");

namespace rnnserve::client {
namespace {

absl::Status RunGenerate(const CommandLine& line) {
  if (!line.positional.empty()) return UsageError("generate takes no arguments, only flags");
  const std::string prompt = absl::GetFlag(FLAGS_prompt);
  const int64_t length = absl::GetFlag(FLAGS_length);
  const double temperature = absl::GetFlag(FLAGS_temperature);
  if (prompt.empty()) return UsageError("--prompt is required: the model needs text to continue");
  if (length < 0) return UsageError("--length must be 0 or more");
  if (!(temperature >= 0)) return UsageError("--temperature must be 0 or more");
  std::string model_name = absl::GetFlag(FLAGS_model);
  if (model_name.empty()) model_name = "charlm";

  const absl::Duration timeout = absl::GetFlag(FLAGS_timeout);
  RNN_ASSIGN_OR_RETURN(const std::shared_ptr<grpc::Channel> channel, ChannelFromFlags());
  RNN_ASSIGN_OR_RETURN(
      const v1::ModelInfo model,
      DescribeModel(channel, model_name, absl::GetFlag(FLAGS_model_version), timeout));
  const std::string vocab_path = absl::GetFlag(FLAGS_vocab);
  absl::StatusOr<Vocabulary> loaded =
      vocab_path.empty() ? Vocabulary::Demo() : Vocabulary::Load(vocab_path);
  if (!loaded.ok()) return loaded.status();
  const Vocabulary& vocabulary = *loaded;
  RNN_RETURN_IF_ERROR(vocabulary.CheckFits(model));

  // A random session is ended by the last request; a named one is kept, with
  // every generated character fed, so it can be continued.
  std::string session = absl::GetFlag(FLAGS_session);
  const bool keep = !session.empty();
  if (session.empty()) session = RandomSessionId("generate-");
  const int64_t feeds = keep ? length : std::max<int64_t>(length - 1, 0);

  StepCaller caller(channel, session, timeout, StepCaller::Transport::kStream);
  v1::StepRequest request;
  request.set_session_id(session);
  request.mutable_model()->set_name(model.model().name());
  request.mutable_model()->set_version(model.model().version());
  request.set_start(true);
  request.set_end(!keep && feeds == 0);
  request.set_output_mode(v1::OUTPUT_MODE_LAST_STEP);
  for (const int64_t id : vocabulary.Encode(prompt)) request.mutable_tokens()->add_ids(id);

  TokenSampler sampler(temperature, absl::GetFlag(FLAGS_seed));
  RNN_ASSIGN_OR_RETURN(const v1::StepResponse* response, caller.Call(request));
  std::cout << prompt << std::flush;  // once the server took it
  for (int64_t i = 1; i <= length; ++i) {
    if (response->outputs().values_size() != vocabulary.size()) {
      return ServerRefused(absl::StatusCode::kInternal,
                           absl::StrCat("expected ", vocabulary.size(), " scores, got ",
                                        response->outputs().values_size()));
    }
    // The unknown token has no text to print or feed back.
    const int64_t id = sampler.Sample(response->outputs().values().data(), vocabulary.size(),
                                      vocabulary.unknown_id());
    std::cout << vocabulary.Decode(id).value_or("") << std::flush;
    if (i > feeds) break;
    request.set_start(false);
    request.set_end(!keep && i == feeds);
    request.mutable_tokens()->clear_ids();
    request.mutable_tokens()->add_ids(id);
    RNN_ASSIGN_OR_RETURN(response, caller.Call(request));
  }
  std::cout << "\n" << std::flush;
  return caller.Close();
}

}  // namespace

const Command& GenerateCommand() {
  static const Command* const command = new Command{
      .name = "generate",
      .synopsis =
          "generate --model charlm --prompt TEXT [--length N] [--temperature T] "
          "[--seed S]",
      .summary = "Generate text with a character model, one character per session step.",
      .details =
          "Prints the prompt, then each character as it is sampled, then a newline.\n"
          "The character <-> token id mapping is not part of the API: it comes from --vocab\n"
          "or, by default, is the demo charlm's. Without --session a fresh session is used\n"
          "and ended; with --session the session is (re)started and kept, every generated\n"
          "character fed, so a later `stream --session` continues the text.\n",
      .flags = {"model", "model_version", "session", "prompt", "length", "temperature", "seed",
                "vocab"},
      .run = RunGenerate,
  };
  return *command;
}

}  // namespace rnnserve::client
