#include "server/native_step_exchange.h"

#include <optional>
#include <string>
#include <utility>

#include "server/grpc_status.h"
#include "server/raw_message.h"
#include "server/session_position.h"
#include "server/stored_inline.h"

namespace rnnserve::server {
namespace {

// `response` as the answer of a request that failed: nothing was applied.
void SetError(const v1::StepRequest& request, const absl::Status& status,
              v1::StepResponse& response) {
  response.Clear();
  response.set_request_id(request.request_id());
  response.set_session_id(request.session_id());
  response.mutable_error()->set_code(static_cast<int>(status.code()));
  response.mutable_error()->set_message(std::string(status.message()));
  // Where the session stands, when the request was refused for that.
  if (const std::optional<int64_t> steps = SessionStepsOf(status)) {
    response.set_session_steps(*steps);
  }
}

}  // namespace

NativeStepExchange::NativeStepExchange(const StepHandler* handler, ServerMetrics* metrics,
                                       absl::Time deadline)
    : handler_(handler),
      metrics_(metrics),
      deadline_(deadline),
      first_block_(new char[kFirstBlockBytes]),
      arena_(FirstBlock(first_block_.get())) {}

google::protobuf::ArenaOptions NativeStepExchange::FirstBlock(char* block) {
  google::protobuf::ArenaOptions options;
  options.initial_block = block;
  options.initial_block_size = kFirstBlockBytes;
  return options;
}

void NativeStepExchange::Serve(const grpc::ByteBuffer& request_bytes,
                               grpc::ByteBuffer* response_bytes, Done done) {
  done_ = std::move(done);
  response_bytes_ = response_bytes;
  // Reset on the thread that parses: the first block then serves it without
  // a new one (protobuf gives each other thread a block of its own).
  arena_.Reset();
  request_ = google::protobuf::Arena::CreateMessage<v1::StepRequest>(&arena_);
  response_ = google::protobuf::Arena::CreateMessage<v1::StepResponse>(&arena_);
  const absl::Status parsed = ParseMessage(request_bytes, *request_);
  if (!parsed.ok()) return Answer(parsed);
  auto reply = [this](absl::Status status) { Answer(status); };
  static_assert(kStoredInline<decltype(reply)>);
  handler_->Handle(*request_, *response_, deadline_, in_flight_, std::move(reply));
}

void NativeStepExchange::Answer(const absl::Status& status) {
  metrics_->CountRequest("StreamSteps", status.code());
  if (!status.ok()) SetError(*request_, status, *response_);
  // Cannot fail: Admission keeps every answer within --max_message_bytes,
  // below protobuf's 2 GiB. Kept as the guard it was.
  const grpc::Status serialized = SerializeMessage(*response_, *response_bytes_);
  // A step larger than the first block took more: freed now, not when the
  // next request comes, which may be hours away (issue 20). Done with both
  // messages before `done`: once it runs, the next Serve may.
  if (arena_.SpaceAllocated() > kFirstBlockBytes) {
    arena_.Reset();
    request_ = nullptr;
    response_ = nullptr;
  }
  response_bytes_ = nullptr;
  Done done = std::move(done_);
  std::move(done)(serialized.ok() ? absl::OkStatus() : ToAbslStatus(serialized));
}

}  // namespace rnnserve::server
