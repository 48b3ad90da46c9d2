// One streaming call on gRPC's callback API (STYLE.md), strictly
// read -> step -> write -> read: rnnserve.v1's StreamSteps, or any protocol a
// StreamExchange speaks (the Open Inference Protocol's ModelStreamInfer).
// Reactions return at once: the step runs on StepBatcher's threads. A bad
// request gets its error in its own response and the stream goes on. When
// the server drains, the step in flight is answered and the stream then
// finishes with UNAVAILABLE; a request read but not stepped gets no response,
// so "answered" always means "applied". A held stream (StreamDrain::HoldAll)
// steps nothing more but stays open until the drain.
// Deletes itself in OnDone; thread-safe.
#ifndef RNNSERVE_SERVER_STEP_STREAM_H_
#define RNNSERVE_SERVER_STEP_STREAM_H_

#include <cstdint>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/server_callback.h"
#include "server/metrics.h"
#include "server/step_handler.h"
#include "server/stream_drain.h"
#include "server/stream_exchange.h"

namespace rnnserve::server {

// Raw (server/raw_message.h): reads request bytes and hands them to its
// StreamExchange, which parses them (bytes that are not a request get an
// INVALID_ARGUMENT response, and the stream goes on) and makes the response
// bytes this stream writes.
class StepStream final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                         public Drainable {
 public:
  // Starts reading; serves each request with `exchange`. `drain` is not
  // owned and outlives the server.
  StepStream(std::unique_ptr<StreamExchange> exchange, StreamDrain* drain);
  // rnnserve.v1's StreamSteps (NativeStepExchange). None owned; all outlive
  // the server.
  StepStream(const StepHandler* handler, ServerMetrics* metrics, StreamDrain* drain,
             absl::Time deadline);

  void Hold() override ABSL_LOCKS_EXCLUDED(mu_);
  void Drain() override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  enum class Phase { kReading, kStepping, kWriting, kFinished };

  void OnReadDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnDone() override;  // The last reaction.

  // Writes response_bytes_ (or finishes with the error).
  void Answer(const absl::Status& status) ABSL_LOCKS_EXCLUDED(mu_);
  // Starts the next read, or finishes when a drain came while starting it.
  // REQUIRES: phase_ was set to kReading (and read_seq_ advanced) under mu_.
  void IssueRead(uint64_t seq) ABSL_LOCKS_EXCLUDED(mu_);
  // Decides under mu_ whether the call should finish now; the caller then
  // calls Finish outside the lock (STYLE.md: no gRPC call under a lock).
  bool TakeFinish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::unique_ptr<StreamExchange> exchange_;
  StreamDrain* const drain_;
  // Owned by the one operation in flight: request_bytes_ by the read,
  // response_bytes_ by the exchange (which serializes into it) from Serve
  // until its Done, then by the write.
  grpc::ByteBuffer request_bytes_;
  grpc::ByteBuffer response_bytes_;

  absl::Mutex mu_;
  Phase phase_ ABSL_GUARDED_BY(mu_) = Phase::kReading;
  bool holding_ ABSL_GUARDED_BY(mu_) = false;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  // Finish may only follow a StartRead that has returned: read_seq_ numbers
  // the reads decided, read_issued_ says the latest one has been started.
  uint64_t read_seq_ ABSL_GUARDED_BY(mu_) = 0;
  bool read_issued_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_STEP_STREAM_H_
