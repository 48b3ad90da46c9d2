#include "server/step_stream.h"

#include <memory>
#include <utility>

#include "server/grpc_status.h"
#include "server/native_step_exchange.h"
#include "server/stored_inline.h"

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
    : StepStream(std::make_unique<NativeStepExchange>(handler, metrics, deadline), drain) {}

StepStream::StepStream(std::unique_ptr<StreamExchange> exchange, StreamDrain* drain)
    : exchange_(std::move(exchange)), drain_(drain) {
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
  // The exchange parses during Serve: the bytes are freed when it returns,
  // so a stream holds none while its step runs or it idles.
  grpc::ByteBuffer request;
  request.Swap(&request_bytes_);
  // One pointer: stored inline in the exchange's Done, no allocation.
  auto done = [this](absl::Status status) { Answer(status); };
  static_assert(kStoredInline<decltype(done)>);
  exchange_->Serve(request, &response_bytes_, std::move(done));
}

void StepStream::Answer(const absl::Status& status) {
  {
    absl::MutexLock lock(&mu_);
    phase_ = status.ok() ? Phase::kWriting : Phase::kFinished;
  }
  if (!status.ok()) return Finish(ToGrpcStatus(status));
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
