#include "client/bench/load_engine.h"

#include <algorithm>
#include <limits>
#include <random>

#include "absl/strings/str_cat.h"
#include "client/bench/native_step_wire.h"
#include "client/bench/v2_step_wire.h"
#include "client/channel.h"
#include "client/model_info.h"
#include "rnnserve/v1/sessions.grpc.pb.h"

namespace rnnserve::client::bench {
namespace {

// Distinct random inputs cycled through; enough that the server never sees
// one input over and over, few enough to build at once.
constexpr int kInputPool = 64;
constexpr int kMaxEndSessionCalls = 128;

}  // namespace

// One bidirectional stream and the sessions it carries. Reactions run on
// gRPC's threads, the open-loop wake-ups and reopenings on the pacer's; an
// exchange (one request and its response) is in flight at a time, and the
// next starts only once both its write and its read completed (`pending_`),
// so the exchange fields are never touched by two threads at once. A
// counted request's exchange lasts until it is answered or fails, through
// any requests sent again on the way. After a broken stream the reactor is
// bound to a new call (gRPC is done with the old one when OnDone runs).
// Owned by the engine, which destroys it only after its last OnDone.
// What the engine does with a stream, whatever its protocol.
class LoadEngine::StreamControl {
 public:
  virtual ~StreamControl() = default;
  // Opens the stream on `channel` and starts sending.
  virtual void Start(const std::shared_ptr<grpc::Channel>& channel) = 0;
  // Cancels the stream when its answer is more than `timeout` overdue.
  virtual void CancelIfOverdue(int64_t now_ns, int64_t timeout_ns) = 0;
};

template <typename Wire>
class LoadEngine::Stream final
    : public LoadEngine::StreamControl,
      public grpc::ClientBidiReactor<typename Wire::Request, typename Wire::Response> {
  using Reactor = grpc::ClientBidiReactor<typename Wire::Request, typename Wire::Response>;
  using Reactor::AddHold;
  using Reactor::RemoveHold;
  using Reactor::StartCall;
  using Reactor::StartRead;
  using Reactor::StartWrite;
  using Reactor::StartWritesDone;

 public:
  Stream(LoadEngine* engine, int index, std::vector<Session*> sessions)
      : engine_(engine), index_(index), sessions_(std::move(sessions)) {
    if (engine_->open_loop()) {
      const double interval = 1e9 / engine_->options_.rate;  // between requests of the run
      interval_ns_ = static_cast<int64_t>(interval * engine_->options_.streams);
      next_due_ns_ = engine_->start_ns_ + static_cast<int64_t>(interval * index_);
    }
    Wire::Prepare(engine_->options_.model, request_);
  }

  void Start(const std::shared_ptr<grpc::Channel>& channel) override {
    stub_ = Wire::NewStub(channel);
    Open();
  }

  void CancelIfOverdue(int64_t now_ns, int64_t timeout_ns) override {
    const int64_t sent = sent_ns_.load(std::memory_order_acquire);
    if (sent != 0 && now_ns - sent > timeout_ns && !timed_out_.exchange(true)) {
      absl::MutexLock lock(&context_mu_);
      context_->TryCancel();
    }
  }

 private:
  // Starts a call (the first, or after a broken one) and sends.
  void Open() {
    {
      absl::MutexLock lock(&context_mu_);
      context_ = std::make_unique<grpc::ClientContext>();
      PrepareContext(*context_, absl::ZeroDuration(), sessions_.front()->id);
    }
    timed_out_.store(false);
    ended_.store(false);
    reopen_ = false;
    Wire::Open(*stub_, context_.get(), this);
    StartRead(&response_);
    AddHold();  // Schedule below runs outside a reaction
    StartCall();
    Schedule();
    RemoveHold();
  }

  void OnWriteDone(bool ok) override {
    if (ok) ExchangeHalfDone();
    // Not ok: the stream broke; the read fails too and OnDone sees to the step.
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      ended_.store(true);
      return;  // OnDone follows once nothing else is pending
    }
    sent_ns_.store(0, std::memory_order_release);
    ResendWindow& window = *session_->window;
    const StepOutcome outcome = Wire::Read(response_);
    WindowAction action;
    const int code = outcome.code;
    if (code != 0) {
      switch (static_cast<grpc::StatusCode>(code)) {
        case grpc::StatusCode::ABORTED:
          // session_steps 0 (unset): replicas racing for it, "send again".
          action = window.OnAborted(ticket_, outcome.session_steps > 0
                                                 ? std::optional<int64_t>(outcome.session_steps)
                                                 : std::nullopt);
          break;
        case grpc::StatusCode::NOT_FOUND:
          action = window.OnNotFound(ticket_);
          break;
        case grpc::StatusCode::UNAVAILABLE:
          // The session moved: a new stream reaches its new replica.
          window.OnBroken(outcome.message);
          reopen_ = true;
          {
            absl::MutexLock lock(&context_mu_);
            context_->TryCancel();
          }
          return;  // OnDone reopens and sends it again
        default:   // refused, nothing applied
          action.kind = WindowAction::Kind::kFail;
      }
    } else {
      action = window.OnAnswer(ticket_, outcome.session_steps, outcome.durable_steps);
    }
    Handle(action, code);
    StartRead(&response_);
    ExchangeHalfDone();
  }

  // What an outcome of the exchange's request means for the exchange.
  void Handle(const WindowAction& action, int code) {
    using Kind = WindowAction::Kind;
    const int64_t now = SteadyNanos();
    switch (action.kind) {
      case Kind::kDeliver:
        session_->started = true;
        recoveries_ = 0;
        if (session_->resend.empty()) EndExchange(0, now);
        return;
      case Kind::kIgnore:
        return;
      case Kind::kResend:
      case Kind::kRestart:
        if (++recoveries_ > engine_->options_.max_reconnects) break;  // give up: fails below
        if (action.kind == Kind::kRestart) engine_->restarts_.fetch_add(1);
        Resend(action);
        return;
      case Kind::kLost:
        engine_->sessions_lost_.fetch_add(1);
        break;
      case Kind::kFail:  // nothing was applied
        session_->window->OnRefused(ticket_);
        break;
    }
    // The exchange failed; the session goes on afresh if it must.
    if (action.kind != Kind::kFail) NewWindow(*session_);
    session_->resend.clear();
    EndExchange(code == 0 ? static_cast<int>(grpc::StatusCode::ABORTED) : code, now);
  }

  void Resend(const WindowAction& action) {
    for (const PendingRequest& p : action.requests) engine_->steps_resent_.fetch_add(p.steps);
    session_->resend.assign(action.requests.begin(), action.requests.end());
  }

  // The exchange is over: answered (code 0) or failed with `code`.
  void EndExchange(int code, int64_t now) {
    in_flight_ = false;
    if (!counted_) return;
    if (code == 0) {
      engine_->RecordAnswer(steps_, now - due_ns_, now);
    } else {
      engine_->RecordFailure(steps_, code, now);
    }
  }

  void OnDone(const grpc::Status& status) override {
    const bool broken = reopen_ || status.error_code() == grpc::StatusCode::UNAVAILABLE;
    // Broken with a request unanswered, or before the run is over (while
    // idle, waiting for a due time): reopen.
    const bool more = in_flight_ || !closed_;
    if (more && broken && !timed_out_.load() && !engine_->stopping_.load() &&
        ++recoveries_ <= engine_->options_.max_reconnects) {
      if (in_flight_) Resend(session_->window->OnBroken(status.error_message()));
      engine_->reconnects_.fetch_add(1);
      sent_ns_.store(0, std::memory_order_release);  // no answer is awaited while waiting
      const int64_t backoff_ms = std::min<int64_t>(100LL << std::min(recoveries_ - 1, 10), 2000);
      // The pacer reopens later; this reactor stays alive until then (the
      // engine waits for StreamEnded).
      engine_->pacer_->At(SteadyNanos() + backoff_ms * 1'000'000, [this] {
        if (engine_->stopping_.load()) return Fail(grpc::StatusCode::UNAVAILABLE);
        Open();
      });
      return;
    }
    if (in_flight_) {
      int code = static_cast<int>(status.error_code());
      if (timed_out_.load()) code = static_cast<int>(grpc::StatusCode::DEADLINE_EXCEEDED);
      if (code == 0) code = static_cast<int>(grpc::StatusCode::INTERNAL);  // ended unanswered
      Fail(static_cast<grpc::StatusCode>(code));
      return;
    }
    engine_->StreamEnded();  // The engine may destroy this stream from here on.
  }

  // Ends the stream, failing the exchange in flight (its session starts
  // afresh should it be stepped again).
  void Fail(grpc::StatusCode code) {
    if (in_flight_) {
      session_->resend.clear();
      NewWindow(*session_);
      EndExchange(static_cast<int>(code), SteadyNanos());
    }
    engine_->StreamEnded();
  }

  void NewWindow(Session& session) {
    session.window.emplace(ResendWindow::Origin::kStarted, 0, engine_->options_.keep_steps);
  }

  // Both halves of an exchange call this; the second starts the next.
  void ExchangeHalfDone() {
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) Schedule();
  }

  // Sends what a recovery owes at once, else the next request now (closed
  // loop, or open loop behind schedule) or at its due time (the pacer).
  void Schedule() {
    if (in_flight_ && !session_->resend.empty()) {
      const PendingRequest p = session_->resend.front();
      session_->resend.pop_front();
      return Transmit(p);
    }
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
    // Broken while idle: OnDone reopens the stream, and this request goes then.
    if (ended_.load()) return;
    const int64_t now = SteadyNanos();
    const int64_t due = engine_->open_loop() ? next_due_ns_ : now;
    next_due_ns_ += interval_ns_;
    if (engine_->stopping_.load() || due >= engine_->end_ns_) return Close();
    const bool counted = due >= engine_->measure_start_ns_;
    int steps = engine_->options_.chunk;
    if (counted && (steps = engine_->ClaimSteps(steps)) == 0) return Close();

    session_ = sessions_[next_session_];
    next_session_ = (next_session_ + 1) % sessions_.size();
    if (!session_->window.has_value()) NewWindow(*session_);
    const uint64_t input = requests_++ * engine_->options_.streams + index_;
    steps_ = steps;
    counted_ = counted;
    due_ns_ = due;
    in_flight_ = true;
    if (counted) {
      engine_->steps_sent_.fetch_add(steps, std::memory_order_relaxed);
      engine_->requests_sent_.fetch_add(1, std::memory_order_relaxed);
    }
    Transmit(session_->window->Send(input, steps));
  }

  // Writes `p` for the exchange's session.
  void Transmit(const PendingRequest& p) {
    Wire::Fill(session_->id, p, engine_->InputOf(p.input, p.skip, p.steps), request_);
    ticket_ = p.ticket;
    pending_.store(2, std::memory_order_relaxed);
    sent_ns_.store(SteadyNanos(), std::memory_order_release);
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
  std::unique_ptr<typename Wire::Stub> stub_;
  absl::Mutex context_mu_;  // the watchdog cancels from another thread
  std::unique_ptr<grpc::ClientContext> context_ ABSL_PT_GUARDED_BY(context_mu_);
  typename Wire::Request request_;
  typename Wire::Response response_;
  size_t next_session_ = 0;
  uint64_t requests_ = 0;
  int64_t interval_ns_ = 0;  // open loop: between this stream's requests
  int64_t next_due_ns_ = 0;
  bool closed_ = false;
  int recoveries_ = 0;   // in a row, without an answer between them
  bool reopen_ = false;  // the session moved: OnDone reopens

  // The exchange in flight.
  Session* session_ = nullptr;
  uint64_t ticket_ = 0;  // of the request last written
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
  }
}

LoadEngine::~LoadEngine() {
  pacer_.reset();  // runs what is pending, so no stream is touched after this
  streams_.clear();
}

void LoadEngine::Start() {
  // Open-loop wake-ups, and reopening broken streams after a backoff.
  pacer_ = std::make_unique<Pacer>();
  start_ns_ = SteadyNanos();
  measure_start_ns_ = start_ns_ + absl::ToInt64Nanoseconds(options_.warmup);
  end_ns_ = options_.duration > absl::ZeroDuration()
                ? measure_start_ns_ + absl::ToInt64Nanoseconds(options_.duration)
                : std::numeric_limits<int64_t>::max();
  budget_.store(options_.steps > 0 ? options_.steps : std::numeric_limits<int64_t>::max());
  for (int k = 0; k < options_.streams; ++k) {
    std::vector<Session*> carried;
    for (int i = k; i < options_.sessions; i += options_.streams) carried.push_back(&sessions_[i]);
    if (options_.protocol == StepProtocol::kV2) {
      streams_.push_back(std::make_unique<Stream<V2StepWire>>(this, k, std::move(carried)));
    } else {
      streams_.push_back(std::make_unique<Stream<NativeStepWire>>(this, k, std::move(carried)));
    }
  }
  {
    absl::MutexLock lock(&mu_);
    live_streams_ = options_.streams;
  }
  for (int k = 0; k < options_.streams; ++k) {
    streams_[k]->Start(channels_[k % options_.channels]);
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

StepInput LoadEngine::InputOf(uint64_t index, int64_t skip, int64_t steps) const {
  StepInput input;
  input.steps = steps;
  input.input_size = options_.model.input_size();
  if (TakesTokens(options_.model)) {
    const std::vector<int64_t>& ids = token_inputs_[index % token_inputs_.size()];
    input.tokens = absl::MakeConstSpan(ids).subspan(skip, steps);
  } else {
    const std::vector<float>& values = float_inputs_[index % float_inputs_.size()];
    input.floats =
        absl::MakeConstSpan(values).subspan(skip * input.input_size, steps * input.input_size);
  }
  return input;
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
  progress.steps_resent = steps_resent_.load();
  progress.restarts = restarts_.load();
  progress.sessions_lost = sessions_lost_.load();
  progress.reconnects = reconnects_.load();
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
