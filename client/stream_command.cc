// `stream`: a sequence through one session, step by step (or T steps a
// request), each output printed as soon as its response arrives.
#include <charconv>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "client/channel.h"
#include "client/command.h"
#include "client/common_flags.h"
#include "client/errors.h"
#include "client/model_info.h"
#include "client/session_stepper.h"
#include "client/step_caller.h"
#include "client/step_reader.h"
#include "rnnserve/v1/inference.grpc.pb.h"
#include "rnnserve/v1/sessions.grpc.pb.h"
#include "util/status_macros.h"

ABSL_FLAG(std::string, input, "-",
          "the steps: a .npy file, a CSV file (one step per line: input_size numbers, or one "
          "token id), or - for CSV on stdin");
ABSL_FLAG(std::string, format, "csv",
          "output: csv (one line of output_size values per step) or jsonl ({\"step\": N, "
          "\"output\": [...]} per step, N counting the session's steps)");
ABSL_FLAG(std::string, outputs, "all",
          "which outputs to ask for: all (every step) or last "
          "(only the last step of each request)");
ABSL_FLAG(bool, reset, false, "start the --session afresh even when it exists");
ABSL_FLAG(bool, end, false,
          "end the --session after the last step (a session with a random "
          "id is always ended)");
ABSL_FLAG(bool, unary, false,
          "send each request as a unary Step call instead of one "
          "StreamSteps stream");

namespace rnnserve::client {
namespace {

// How the session is opened and closed.
struct SessionPlan {
  std::string id;
  bool start = true;  // the first request starts (or resets) it
  bool end = false;   // EndSession after the last step
  int64_t steps = 0;  // where an existing session stands
};

// The shortest text that reads back as the same float.
void AppendFloat(float value, std::string& out) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out.append(buffer, result.ptr);
}

// Prints the rows of `response` (each output_size wide) in `format`, but the
// first `seen` (printed already: the answer to a resent request).
void PrintOutputs(const v1::StepResponse& response, int64_t seen, bool jsonl, std::string& text) {
  const auto& shape = response.outputs().shape();
  const int64_t rows = shape.size() == 2 ? shape[0] : 0;
  const int64_t width = shape.size() == 2 ? shape[1] : 0;
  const auto& values = response.outputs().values();
  text.clear();
  for (int64_t r = seen; r < rows; ++r) {
    if (jsonl) {
      absl::StrAppend(&text, "{\"step\": ", response.session_steps() - rows + r + 1,
                      ", \"output\": [");
    }
    for (int64_t c = 0; c < width; ++c) {
      if (c > 0) text += jsonl ? ", " : ",";
      AppendFloat(values[r * width + c], text);
    }
    text += jsonl ? "]}\n" : "\n";
  }
  std::cout << text << std::flush;
}

// Decides whether the first request starts the session and whether it ends,
// and which model it runs (an existing --session names its own).
absl::StatusOr<SessionPlan> PlanSession(const std::shared_ptr<grpc::Channel>& channel,
                                        std::string& model_name) {
  SessionPlan plan;
  plan.id = absl::GetFlag(FLAGS_session);
  if (plan.id.empty()) {
    plan.id = RandomSessionId("cli-");
    plan.end = true;
    return plan;
  }
  plan.end = absl::GetFlag(FLAGS_end);
  if (absl::GetFlag(FLAGS_reset)) return plan;
  v1::SessionRef ref;
  ref.set_session_id(plan.id);
  v1::SessionInfo info;
  grpc::ClientContext context;
  PrepareContext(context, absl::GetFlag(FLAGS_timeout), plan.id);
  const grpc::Status status =
      v1::SessionService::NewStub(channel)->DescribeSession(&context, ref, &info);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return plan;  // a new session
  if (!status.ok()) return RpcError("DescribeSession", status);
  plan.start = false;  // it exists: continue it
  plan.steps = info.steps();
  if (model_name.empty()) model_name = info.model().name();
  return plan;
}

// Fills `request` with up to `chunk` steps; false when the input had none.
absl::StatusOr<bool> NextRequest(StepReader& reader, const v1::ModelInfo& model, int chunk,
                                 v1::StepRequest& request) {
  request.clear_floats();
  request.clear_tokens();
  InputStep step;
  int steps = 0;
  while (steps < chunk) {
    RNN_ASSIGN_OR_RETURN(const bool more, reader.Next(step));
    if (!more) break;
    if (TakesTokens(model)) {
      request.mutable_tokens()->add_ids(step.token);
    } else {
      request.mutable_floats()->mutable_values()->Add(step.floats.begin(), step.floats.end());
    }
    ++steps;
  }
  if (steps > 0 && !TakesTokens(model)) request.mutable_floats()->set_steps(steps);
  return steps > 0;
}

absl::Status EndSession(const std::shared_ptr<grpc::Channel>& channel, const std::string& id) {
  v1::SessionRef ref;
  ref.set_session_id(id);
  v1::SessionInfo info;
  grpc::ClientContext context;
  PrepareContext(context, absl::GetFlag(FLAGS_timeout), id);
  const grpc::Status status =
      v1::SessionService::NewStub(channel)->EndSession(&context, ref, &info);
  return status.ok() ? absl::OkStatus() : RpcError("EndSession", status);
}

absl::Status RunStream(const CommandLine& line) {
  if (!line.positional.empty()) {
    return UsageError("stream takes no arguments; name the input with --input FILE");
  }
  const int chunk = absl::GetFlag(FLAGS_chunk);
  const std::string format = absl::GetFlag(FLAGS_format);
  const std::string outputs = absl::GetFlag(FLAGS_outputs);
  if (chunk < 1) return UsageError("--chunk must be at least 1");
  if (format != "csv" && format != "jsonl") return UsageError("--format is csv or jsonl");
  if (outputs != "all" && outputs != "last") return UsageError("--outputs is all or last");
  std::string model_name = absl::GetFlag(FLAGS_model);
  if (model_name.empty() && absl::GetFlag(FLAGS_session).empty()) {
    return UsageError("--model is required (or an existing --session)");
  }
  const absl::Duration timeout = absl::GetFlag(FLAGS_timeout);
  RNN_ASSIGN_OR_RETURN(const std::shared_ptr<grpc::Channel> channel, ChannelFromFlags());
  RNN_ASSIGN_OR_RETURN(const SessionPlan plan, PlanSession(channel, model_name));
  RNN_ASSIGN_OR_RETURN(
      const v1::ModelInfo model,
      DescribeModel(channel, model_name, absl::GetFlag(FLAGS_model_version), timeout));
  RNN_ASSIGN_OR_RETURN(std::unique_ptr<StepReader> reader,
                       StepReader::Open(absl::GetFlag(FLAGS_input), model));

  v1::StepRequest request;
  request.set_session_id(plan.id);
  request.mutable_model()->set_name(model.model().name());
  request.mutable_model()->set_version(absl::GetFlag(FLAGS_model_version));
  request.set_start(plan.start);
  request.set_output_mode(outputs == "last" ? v1::OUTPUT_MODE_LAST_STEP
                                            : v1::OUTPUT_MODE_ALL_STEPS);
  const bool jsonl = format == "jsonl";
  StepCaller caller(
      channel, plan.id, timeout,
      absl::GetFlag(FLAGS_unary) ? StepCaller::Transport::kUnary : StepCaller::Transport::kStream);
  StepperOptions options;
  options.max_reconnects = absl::GetFlag(FLAGS_max_reconnects);
  options.keep_steps = absl::GetFlag(FLAGS_keep_steps);
  SessionStepper stepper(
      &caller, request,
      plan.start ? ResendWindow::Origin::kStarted : ResendWindow::Origin::kContinued, plan.steps,
      options);
  std::string text;
  int64_t sent = 0;
  absl::Status failed;
  const SessionStepper::Deliver print = [&](const v1::StepResponse& response, int64_t seen) {
    PrintOutputs(response, seen, jsonl, text);
  };
  // Strictly one request in flight: a step's output is printed before the
  // next line of stdin is even read.
  while (failed.ok()) {
    absl::StatusOr<bool> more = NextRequest(*reader, model, chunk, request);
    if (!more.ok() || !*more) {
      failed = more.status();
      break;
    }
    ++sent;
    failed = stepper.Step(request, print);
  }
  const RecoveryCounts& counts = stepper.counts();
  if (counts.reconnects + counts.restarts + counts.resent_steps > 0) {
    std::cerr << "stream: recovered: " << counts.reconnects << " reconnects, " << counts.restarts
              << " restarts, " << counts.resent_steps << " steps sent again\n";
  }
  const absl::Status closed = caller.Close();
  // A session nobody else knows is ended even after a failure.
  const absl::Status ended = plan.end && sent > 0 ? EndSession(channel, plan.id) : absl::OkStatus();
  RNN_RETURN_IF_ERROR(failed);
  RNN_RETURN_IF_ERROR(closed);
  return ended;
}

}  // namespace

const Command& StreamCommand() {
  static const Command* const command = new Command{
      .name = "stream",
      .synopsis =
          "stream --model NAME [--session ID] --input FILE|- [--chunk T] "
          "[--format csv|jsonl]",
      .summary =
          "Stream a sequence through a session, printing each step's output as it "
          "arrives.",
      .details =
          "Input: .npy ([T, input_size] floats, [T] for one feature; [T] or [T, 1] integer\n"
          "token ids for token models), or CSV (a file, or - for stdin, read line by line):\n"
          "one step per line, input_size numbers separated by commas or blanks, or one\n"
          "integer token id. Blank lines and lines starting with # are skipped.\n"
          "Without --session a fresh session is used and ended at the end; an existing\n"
          "--session is continued (its model is used when --model is not given) unless\n"
          "--reset, a new one is started. Each step's output is printed as one CSV line of\n"
          "output_size values (or one JSON line with --format=jsonl).\n"
          "Every request carries expected_session_steps. After a server crash or a broken\n"
          "stream the client resends what the server lacks (ABORTED: from the step it names;\n"
          "UNAVAILABLE: reopens the stream after a short backoff, --max_reconnects times in a\n"
          "row at most; NOT_FOUND: restarts the session and replays it when every input is\n"
          "kept, see --keep_steps), so each output is printed once, in order, as without the\n"
          "failure; a session that cannot be recovered is an error (DATA_LOSS).\n",
      .flags = {"model", "model_version", "session", "input", "chunk", "format", "outputs", "reset",
                "end", "unary", "max_reconnects", "keep_steps"},
      .run = RunStream,
  };
  return *command;
}

}  // namespace rnnserve::client
