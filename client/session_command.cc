// `session export|import|end|reset|describe`: the SessionService calls, so a
// session can be inspected, restarted, ended, or moved between replicas.
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "client/channel.h"
#include "client/command.h"
#include "client/common_flags.h"
#include "client/errors.h"
#include "client/proto_json.h"
#include "client/text_table.h"
#include "rnnserve/v1/sessions.grpc.pb.h"
#include "util/file.h"
#include "util/status_macros.h"

ABSL_FLAG(std::string, out, "",
          "session export: the file the SessionState message is written to (- for stdout)");

namespace rnnserve::client {
namespace {

void PrintInfo(const v1::SessionInfo& info) {
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << ToJson(info) << "\n";
    return;
  }
  TextTable table({"SESSION", "MODEL", "VERSION", "STEPS", "DURABLE", "IDLE"});
  table.AddRow({info.session_id(), info.model().name(), absl::StrCat(info.model().version()),
                absl::StrCat(info.steps()), absl::StrCat(info.durable_steps()),
                absl::FormatDuration(
                    absl::Trunc(absl::Seconds(info.idle_seconds()), absl::Milliseconds(1)))});
  table.Print(std::cout);
}

using SessionCall = grpc::Status (v1::SessionService::Stub::*)(grpc::ClientContext*,
                                                               const v1::SessionRef&,
                                                               v1::SessionInfo*);

// end, reset and describe: one SessionRef in, a SessionInfo out.
absl::Status CallWithRef(v1::SessionService::Stub& stub, SessionCall call, const char* name,
                         const std::string& id) {
  v1::SessionRef ref;
  ref.set_session_id(id);
  v1::SessionInfo info;
  grpc::ClientContext context;
  PrepareContext(context, absl::GetFlag(FLAGS_timeout), id);
  const grpc::Status status = (stub.*call)(&context, ref, &info);
  if (!status.ok()) return RpcError(name, status);
  PrintInfo(info);
  return absl::OkStatus();
}

absl::Status Export(v1::SessionService::Stub& stub, const std::string& id) {
  const std::string path = absl::GetFlag(FLAGS_out);
  if (path.empty()) return UsageError("session export needs --out FILE (or --out -)");
  v1::SessionRef ref;
  ref.set_session_id(id);
  v1::SessionState state;
  grpc::ClientContext context;
  PrepareContext(context, absl::GetFlag(FLAGS_timeout), id);
  const grpc::Status status = stub.ExportState(&context, ref, &state);
  if (!status.ok()) return RpcError("ExportState", status);
  const std::string bytes = state.SerializeAsString();
  std::ostream* summary = &std::cout;
  if (path == "-") {
    std::cout.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    std::cout.flush();
    summary = &std::cerr;
  } else {
    RNN_RETURN_IF_ERROR(util::WriteStringToFile(path, bytes));
  }
  *summary << "exported session " << state.session_id() << " (model " << state.model().name()
           << " version " << state.model().version() << ", " << state.steps() << " steps, "
           << state.state().size() << " bytes of state, " << state.fingerprint() << ") to "
           << (path == "-" ? "stdout" : path) << "\n";
  return absl::OkStatus();
}

absl::Status Import(v1::SessionService::Stub& stub, const std::string& path) {
  RNN_ASSIGN_OR_RETURN(const std::string bytes, util::ReadFileToString(path));
  v1::SessionState state;
  if (!state.ParseFromString(bytes) || state.session_id().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not a SessionState written by `rnnserve-cli session export`"));
  }
  // Importing under another id clones the session.
  if (!absl::GetFlag(FLAGS_session).empty()) state.set_session_id(absl::GetFlag(FLAGS_session));
  v1::SessionInfo info;
  grpc::ClientContext context;
  PrepareContext(context, absl::GetFlag(FLAGS_timeout), state.session_id());
  const grpc::Status status = stub.ImportState(&context, state, &info);
  if (!status.ok()) return RpcError("ImportState", status);
  PrintInfo(info);
  return absl::OkStatus();
}

absl::Status RunSession(const CommandLine& line) {
  if (line.positional.size() != 2) {
    return UsageError(
        "session takes a verb and one argument: export ID, import FILE, end ID, "
        "reset ID or describe ID");
  }
  const std::string& verb = line.positional[0];
  const std::string& arg = line.positional[1];
  if (line.Given("out") && verb != "export") return UsageError("--out is for session export");
  if (line.Given("session") && verb != "import") {
    return UsageError("--session is for session import (the other verbs take the ID)");
  }
  RNN_ASSIGN_OR_RETURN(const std::shared_ptr<grpc::Channel> channel, ChannelFromFlags());
  const auto stub = v1::SessionService::NewStub(channel);
  if (verb == "export") return Export(*stub, arg);
  if (verb == "import") return Import(*stub, arg);
  if (verb == "end") {
    return CallWithRef(*stub, &v1::SessionService::Stub::EndSession, "EndSession", arg);
  }
  if (verb == "reset") {
    return CallWithRef(*stub, &v1::SessionService::Stub::ResetSession, "ResetSession", arg);
  }
  if (verb == "describe") {
    return CallWithRef(*stub, &v1::SessionService::Stub::DescribeSession, "DescribeSession", arg);
  }
  return UsageError(absl::StrCat("unknown session verb \"", verb,
                                 "\": want export, import, end, reset or describe"));
}

}  // namespace

const Command& SessionCommand() {
  static const Command* const command = new Command{
      .name = "session",
      .synopsis =
          "session export ID --out FILE | import FILE [--session NEW_ID] | end ID | "
          "reset ID | describe ID",
      .summary = "Export, import, end, reset or describe a session.",
      .details =
          "export writes the session's SessionState message (model, fingerprint, step count,\n"
          "state bytes) to --out; import reads such a file and creates or replaces the\n"
          "session on --server (under --session NEW_ID if given), which must serve the same\n"
          "model files (else FAILED_PRECONDITION). end, reset, describe and import print the\n"
          "SessionInfo (a table, or --json).\n",
      .flags = {"out", "session", "json"},
      .run = RunSession,
  };
  return *command;
}

}  // namespace rnnserve::client
