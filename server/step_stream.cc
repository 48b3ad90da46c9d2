#include "server/step_stream.h"

#include <optional>
#include <string>
#include <utility>

#include "server/raw_message.h"
#include "server/session_position.h"

namespace rnnserve::server {
namespace {

grpc::Status DrainingStatus() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      "the server is shutting down; every request answered on this stream was "
                      "applied, later ones were not: resend them to another server");
}

}  // namespace

StepStream::StepStream(const StepHandler* handler, ServerMetrics* metrics, StreamDrain* drain,
                       absl::Time deadline)
    : handler_(handler), metrics_(metrics), drain_(drain), deadline_(deadline) {
  // Registered before the first read: once a read is out, OnDone may run.
  const StreamDrain::Mode mode = drain_->Register(this);
  if (mode == StreamDrain::Mode::kDraining) {
    {
      absl::MutexLock lock(&mu_);
      phase_ = Phase::kFinished;
    }
    Finish(DrainingStatus());
    return;
  }
  uint64_t seq;
  {
    absl::MutexLock lock(&mu_);
    holding_ = mode == StreamDrain::Mode::kHolding;
    seq = ++read_seq_;
  }
  IssueRead(seq);
}

void StepStream::IssueRead(uint64_t seq) {
  // `this` outlives the lines after StartRead: IssueRead runs in the
  // constructor (before gRPC binds the reactor) or inside OnWriteDone, and
  // gRPC calls OnDone only after every running reaction has returned.
  StartRead(&request_bytes_);
  bool finish = false;
  {
    absl::MutexLock lock(&mu_);
    if (seq == read_seq_) {
      read_issued_ = true;
      finish = draining_ && TakeFinish();
    }
  }
  if (finish) Finish(DrainingStatus());
}

bool StepStream::TakeFinish() {
  if (phase_ != Phase::kReading || !read_issued_) return false;
  phase_ = Phase::kFinished;
  return true;
}

void StepStream::Hold() {
  absl::MutexLock lock(&mu_);
  holding_ = true;  // OnReadDone steps nothing more; the read in flight stays.
}

void StepStream::Drain() {
  bool finish;
  {
    absl::MutexLock lock(&mu_);
    draining_ = true;
    // While stepping or writing, OnWriteDone finishes instead of reading.
    finish = TakeFinish();
  }
  if (finish) Finish(DrainingStatus());
}

void StepStream::OnReadDone(bool ok) {
  bool step;
  {
    absl::MutexLock lock(&mu_);
    // Drain() finished the call while this read was pending; a request that
    // arrived meanwhile is dropped unapplied (it gets no response).
    if (phase_ == Phase::kFinished) return;
    // Held: the request is dropped unapplied and the stream waits, reading
    // as far as TakeFinish is concerned, for Drain() to finish it.
    if (ok && holding_ && !draining_) return;
    step = ok && !draining_;
    phase_ = step ? Phase::kStepping : Phase::kFinished;
  }
  if (!ok) return Finish(grpc::Status::OK);  // The client half-closed: the normal end.
  if (!step) return Finish(DrainingStatus());
  absl::Status parsed = ParseMessage(request_bytes_, request_);
  request_bytes_.Clear();  // An idle stream holds no request bytes.
  if (!parsed.ok()) return Answer(parsed);
  handler_->Handle(request_, deadline_, [this](absl::StatusOr<v1::StepResponse> result) {
    Answer(std::move(result));
  });
}

void StepStream::Answer(absl::StatusOr<v1::StepResponse> result) {
  metrics_->CountRequest("StreamSteps", result.status().code());
  if (result.ok()) {
    response_ = *std::move(result);
  } else {
    response_.Clear();
    response_.set_request_id(request_.request_id());
    response_.set_session_id(request_.session_id());
    response_.mutable_error()->set_code(static_cast<int>(result.status().code()));
    response_.mutable_error()->set_message(std::string(result.status().message()));
    // Where the session stands, when the request was refused for that.
    if (const std::optional<int64_t> steps = SessionStepsOf(result.status())) {
      response_.set_session_steps(*steps);
    }
  }
  // Messages keep the capacity of their repeated fields (Clear() keeps it):
  // fresh ones, so an idle stream holds no copy of a long chunk's input or
  // answer beyond the bytes being written (issue 20).
  request_ = v1::StepRequest();
  // Cannot fail: Admission keeps every answer within --max_message_bytes,
  // below protobuf's 2 GiB. Kept as the guard it was.
  const grpc::Status serialized = SerializeMessage(response_, response_bytes_);
  response_ = v1::StepResponse();
  {
    absl::MutexLock lock(&mu_);
    phase_ = serialized.ok() ? Phase::kWriting : Phase::kFinished;
  }
  if (!serialized.ok()) return Finish(serialized);
  StartWrite(&response_bytes_);  // Untouched until OnWriteDone.
}

void StepStream::OnWriteDone(bool ok) {
  response_bytes_.Clear();  // Written (or never to be): freed before the next read.
  uint64_t seq = 0;
  bool drained;
  {
    absl::MutexLock lock(&mu_);
    drained = draining_;
    if (ok && !drained) {
      phase_ = Phase::kReading;
      read_issued_ = false;
      seq = ++read_seq_;
    } else {
      phase_ = Phase::kFinished;
    }
  }
  if (!ok) return Finish(grpc::Status::CANCELLED);  // The client is gone; Finish is owed.
  if (drained) return Finish(DrainingStatus());
  IssueRead(seq);
}

void StepStream::OnDone() {
  drain_->Unregister(this);
  delete this;
}

}  // namespace rnnserve::server
