#include "client/bench/load_engine.h"

#include <algorithm>
#include <limits>
#include <random>

#include "absl/strings/str_cat.h"
#include "client/channel.h"
#include "rnnserve/v1/sessions.grpc.pb.h"

namespace rnnserve::client::bench {
namespace {

// Distinct random inputs cycled through; enough that the server never sees
// one input over and over, few enough to build at once.
constexpr int kInputPool = 64;
constexpr int kMaxEndSessionCalls = 128;

bool TakesTokens(const v1::ModelInfo& model) { return model.input_kind() == v1::INPUT_KIND_TOKENS; }

}  // namespace

// One bidirectional stream and the sessions it carries. Reactions run on
// gRPC's threads, the open-loop wake-ups on the pacer's; an exchange (one
// request and its response) is in flight at a time, and the next starts
// only once both its write and its read completed (`pending_`), so the
// exchange fields are never touched by two threads at once. Owned by the
// engine, which destroys it only after OnDone.
class LoadEngine::Stream final : public grpc::ClientBidiReactor<v1::StepRequest, v1::StepResponse> {
 public:
  Stream(LoadEngine* engine, int index, std::vector<Session*> sessions)
      : engine_(engine), index_(index), sessions_(std::move(sessions)) {
    if (engine_->open_loop()) {
      const double interval = 1e9 / engine_->options_.rate;  // between requests of the run
      interval_ns_ = static_cast<int64_t>(interval * engine_->options_.streams);
      next_due_ns_ = engine_->start_ns_ + static_cast<int64_t>(interval * index_);
    }
    request_.mutable_model()->set_name(engine_->options_.model.model().name());
    request_.mutable_model()->set_version(engine_->options_.model.model().version());
  }

  void Start(v1::InferenceService::Stub* stub) {
    PrepareContext(context_, absl::ZeroDuration(), sessions_.front()->id);
    stub->async()->StreamSteps(&context_, this);
    StartRead(&response_);
    AddHold();  // Schedule below runs outside a reaction
    StartCall();
    Schedule();
    RemoveHold();
  }

  // Cancels the stream when its answer is more than `timeout` overdue.
  void CancelIfOverdue(int64_t now_ns, int64_t timeout_ns) {
    const int64_t sent = sent_ns_.load(std::memory_order_acquire);
    if (sent != 0 && now_ns - sent > timeout_ns && !timed_out_.exchange(true)) {
      context_.TryCancel();
    }
  }

 private:
  void OnWriteDone(bool ok) override {
    if (ok) ExchangeHalfDone();
    // Not ok: the stream broke; the read fails too and OnDone counts the step.
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      ended_.store(true);
      return;  // OnDone follows once nothing else is pending
    }
    const int64_t now = SteadyNanos();
    sent_ns_.store(0, std::memory_order_release);
    in_flight_ = false;
    if (response_.has_error()) {
      const int code = response_.error().code();
      // A session the server no longer has (evicted, expired) starts again
      // on its next turn, as does one whose start failed.
      if (code == static_cast<int>(grpc::StatusCode::NOT_FOUND)) session_->started = false;
      if (counted_) engine_->RecordFailure(steps_, code, now);
    } else {
      session_->started = true;
      if (counted_) engine_->RecordAnswer(steps_, now - due_ns_, now);
    }
    StartRead(&response_);
    ExchangeHalfDone();
  }

  void OnDone(const grpc::Status& status) override {
    if (in_flight_ && counted_) {
      int code = static_cast<int>(status.error_code());
      if (timed_out_.load()) code = static_cast<int>(grpc::StatusCode::DEADLINE_EXCEEDED);
      if (code == 0) code = static_cast<int>(grpc::StatusCode::INTERNAL);  // ended unanswered
      engine_->RecordFailure(steps_, code, SteadyNanos());
    }
    engine_->StreamEnded();  // The engine may destroy this stream from here on.
  }

  // Both halves of an exchange call this; the second starts the next.
  void ExchangeHalfDone() {
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) Schedule();
  }

  // Sends the next request now (closed loop, or open loop behind schedule)
  // or asks the pacer to, at its due time.
  void Schedule() {
    if (engine_->open_loop()) {
      if (next_due_ns_ >= engine_->end_ns_ || engine_->stopping_.load()) return Close();
      if (next_due_ns_ > SteadyNanos()) {
        AddHold();  // keeps OnDone (and our destruction) after the wake-up
        engine_->pacer_->At(next_due_ns_, [this] {
          Send();
          RemoveHold();
        });
        return;
      }
    }
    Send();
  }

  void Send() {
    const int64_t now = SteadyNanos();
    const int64_t due = engine_->open_loop() ? next_due_ns_ : now;
    next_due_ns_ += interval_ns_;
    if (ended_.load() || engine_->stopping_.load() || due >= engine_->end_ns_) return Close();
    const bool counted = due >= engine_->measure_start_ns_;
    int steps = engine_->options_.chunk;
    if (counted && (steps = engine_->ClaimSteps(steps)) == 0) return Close();

    session_ = sessions_[next_session_];
    next_session_ = (next_session_ + 1) % sessions_.size();
    request_.set_session_id(session_->id);
    request_.set_start(!session_->started);
    request_.set_request_id(absl::StrCat(++requests_));
    engine_->FillInput(requests_ * engine_->options_.streams + index_, steps, request_);
    steps_ = steps;
    counted_ = counted;
    due_ns_ = due;
    in_flight_ = true;
    if (counted) {
      engine_->steps_sent_.fetch_add(steps, std::memory_order_relaxed);
      engine_->requests_sent_.fetch_add(1, std::memory_order_relaxed);
    }
    pending_.store(2, std::memory_order_relaxed);
    sent_ns_.store(now, std::memory_order_release);
    StartWrite(&request_);
  }

  // No more requests: half-close; the server then ends the stream.
  void Close() {
    if (!closed_) {
      closed_ = true;
      StartWritesDone();
    }
  }

  LoadEngine* const engine_;
  const int index_;
  const std::vector<Session*> sessions_;  // not owned; the engine's
  grpc::ClientContext context_;
  v1::StepRequest request_;
  v1::StepResponse response_;
  size_t next_session_ = 0;
  uint64_t requests_ = 0;
  int64_t interval_ns_ = 0;  // open loop: between this stream's requests
  int64_t next_due_ns_ = 0;
  bool closed_ = false;

  // The exchange in flight.
  Session* session_ = nullptr;
  int steps_ = 0;
  bool counted_ = false;
  int64_t due_ns_ = 0;
  bool in_flight_ = false;
  std::atomic<int> pending_{0};
  std::atomic<int64_t> sent_ns_{0};  // when it was sent; 0 once answered
  std::atomic<bool> timed_out_{false};
  std::atomic<bool> ended_{false};
};

LoadEngine::LoadEngine(LoadOptions options) : options_(std::move(options)) {
  const std::string prefix = RandomSessionId("bench-");
  sessions_.resize(options_.sessions);
  for (int i = 0; i < options_.sessions; ++i) sessions_[i].id = absl::StrCat(prefix, "-", i);

  std::mt19937_64 rng(options_.seed);
  const v1::ModelInfo& model = options_.model;
  for (int p = 0; p < kInputPool; ++p) {
    if (TakesTokens(model)) {
      std::uniform_int_distribution<int64_t> token(0, std::max(model.vocabulary_size(), 1) - 1);
      token_inputs_.emplace_back(options_.chunk);
      for (int64_t& id : token_inputs_.back()) id = token(rng);
    } else {
      std::uniform_real_distribution<float> value(-1.0f, 1.0f);
      float_inputs_.emplace_back(static_cast<size_t>(options_.chunk) * model.input_size());
      for (float& v : float_inputs_.back()) v = value(rng);
    }
  }
  for (int c = 0; c < options_.channels; ++c) {
    channels_.push_back(MakeChannel(options_.connection, c));
    stubs_.push_back(v1::InferenceService::NewStub(channels_.back()));
  }
}

LoadEngine::~LoadEngine() {
  pacer_.reset();  // runs what is pending, so no stream is touched after this
  streams_.clear();
}

void LoadEngine::Start() {
  if (open_loop()) pacer_ = std::make_unique<Pacer>();
  start_ns_ = SteadyNanos();
  measure_start_ns_ = start_ns_ + absl::ToInt64Nanoseconds(options_.warmup);
  end_ns_ = options_.duration > absl::ZeroDuration()
                ? measure_start_ns_ + absl::ToInt64Nanoseconds(options_.duration)
                : std::numeric_limits<int64_t>::max();
  budget_.store(options_.steps > 0 ? options_.steps : std::numeric_limits<int64_t>::max());
  for (int k = 0; k < options_.streams; ++k) {
    std::vector<Session*> carried;
    for (int i = k; i < options_.sessions; i += options_.streams) carried.push_back(&sessions_[i]);
    streams_.push_back(std::make_unique<Stream>(this, k, std::move(carried)));
  }
  {
    absl::MutexLock lock(&mu_);
    live_streams_ = options_.streams;
  }
  for (int k = 0; k < options_.streams; ++k) {
    streams_[k]->Start(stubs_[k % options_.channels].get());
  }
}

bool LoadEngine::WaitUntilDone(int64_t deadline_ns) {
  const int64_t timeout_ns =
      options_.timeout > absl::ZeroDuration() && options_.timeout != absl::InfiniteDuration()
          ? absl::ToInt64Nanoseconds(options_.timeout)
          : std::numeric_limits<int64_t>::max();
  while (true) {
    const int64_t now = SteadyNanos();
    for (const auto& stream : streams_) stream->CancelIfOverdue(now, timeout_ns);
    absl::MutexLock lock(&mu_);
    if (live_streams_ == 0) return true;
    if (now >= deadline_ns) return false;
    // Wake at least every 50 ms to look for overdue answers.
    const int64_t wait = std::min<int64_t>(deadline_ns - now, 50'000'000);
    mu_.AwaitWithTimeout(absl::Condition(
                             +[](int* live) { return *live == 0; }, &live_streams_),
                         absl::Nanoseconds(wait));
  }
}

void LoadEngine::Stop() {
  stopping_.store(true);
  if (pacer_ != nullptr) pacer_->Flush();  // streams waiting for a due time stop now
}

void LoadEngine::StreamEnded() {
  absl::MutexLock lock(&mu_);
  --live_streams_;
}

int LoadEngine::ClaimSteps(int want) {
  int64_t left = budget_.load(std::memory_order_relaxed);
  while (left > 0) {
    const int64_t take = std::min<int64_t>(left, want);
    if (budget_.compare_exchange_weak(left, left - take, std::memory_order_relaxed)) {
      return static_cast<int>(take);
    }
  }
  return 0;
}

void LoadEngine::FillInput(uint64_t index, int steps, v1::StepRequest& request) const {
  if (TakesTokens(options_.model)) {
    const std::vector<int64_t>& ids = token_inputs_[index % token_inputs_.size()];
    request.mutable_tokens()->mutable_ids()->Assign(ids.begin(), ids.begin() + steps);
  } else {
    const std::vector<float>& values = float_inputs_[index % float_inputs_.size()];
    v1::FloatSteps* floats = request.mutable_floats();
    floats->mutable_values()->Assign(
        values.begin(), values.begin() + static_cast<int64_t>(steps) * options_.model.input_size());
    floats->set_steps(steps);
  }
}

void LoadEngine::RecordAnswer(int steps, int64_t latency_ns, int64_t now_ns) {
  latency_.Record(latency_ns);
  steps_answered_.fetch_add(steps, std::memory_order_relaxed);
  requests_answered_.fetch_add(1, std::memory_order_relaxed);
  int64_t last = last_outcome_ns_.load(std::memory_order_relaxed);
  while (now_ns > last && !last_outcome_ns_.compare_exchange_weak(last, now_ns)) {
  }
}

void LoadEngine::RecordFailure(int steps, int code, int64_t now_ns) {
  if (code < 0 || code >= static_cast<int>(failed_steps_.size())) code = 2;  // UNKNOWN
  failed_steps_[code].fetch_add(steps, std::memory_order_relaxed);
  int64_t last = last_outcome_ns_.load(std::memory_order_relaxed);
  while (now_ns > last && !last_outcome_ns_.compare_exchange_weak(last, now_ns)) {
  }
}

LoadProgress LoadEngine::Progress() const {
  LoadProgress progress;
  // Outcomes first: a step is counted as sent before its outcome, so these
  // reads never show more outcomes than sends.
  progress.latency = latency_.Snapshot();
  progress.steps_answered = steps_answered_.load();
  progress.requests_answered = requests_answered_.load();
  for (size_t code = 0; code < failed_steps_.size(); ++code) {
    const int64_t n = failed_steps_[code].load();
    if (n > 0) progress.failed_steps_by_code[static_cast<int>(code)] = n;
    progress.steps_failed += n;
  }
  progress.steps_sent = steps_sent_.load();
  progress.requests_sent = requests_sent_.load();
  const int64_t last = last_outcome_ns_.load();
  progress.elapsed = absl::Nanoseconds(
      std::max<int64_t>(0, (last > 0 ? last : SteadyNanos()) - measure_start_ns_));
  return progress;
}

int64_t LoadEngine::EndSessions() {
  // Shared with the callbacks, so the last one may still be unlocking while
  // this function returns.
  struct Calls {
    absl::Mutex mu;
    int in_flight ABSL_GUARDED_BY(mu) = 0;
    int64_t failed ABSL_GUARDED_BY(mu) = 0;
  };
  struct Call {
    grpc::ClientContext context;
    v1::SessionRef ref;
    v1::SessionInfo info;
  };
  const auto calls = std::make_shared<Calls>();
  const auto stub = v1::SessionService::NewStub(channels_.front());
  for (const Session& session : sessions_) {
    if (!session.started) continue;
    {
      absl::MutexLock lock(&calls->mu);
      calls->mu.Await(absl::Condition(
          +[](Calls* c)
               ABSL_NO_THREAD_SAFETY_ANALYSIS { return c->in_flight < kMaxEndSessionCalls; },
          calls.get()));
      ++calls->in_flight;
    }
    auto call = std::make_shared<Call>();
    call->ref.set_session_id(session.id);
    PrepareContext(call->context, options_.timeout, session.id);
    // The callback owns `call`; gRPC is done with it when the callback runs.
    stub->async()->EndSession(&call->context, &call->ref, &call->info,
                              [call, calls](grpc::Status status) {
                                absl::MutexLock lock(&calls->mu);
                                if (!status.ok()) ++calls->failed;
                                --calls->in_flight;
                              });
  }
  absl::MutexLock lock(&calls->mu);
  calls->mu.Await(absl::Condition(
      +[](Calls* c) ABSL_NO_THREAD_SAFETY_ANALYSIS { return c->in_flight == 0; }, calls.get()));
  return calls->failed;
}

}  // namespace rnnserve::client::bench
