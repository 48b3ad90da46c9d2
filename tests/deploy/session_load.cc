#include "tests/deploy/session_load.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <random>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/resend_window.h"

namespace rnnserve::testing {

using client::PendingRequest;
using client::ResendWindow;
using client::WindowAction;

struct SessionLoad::Session {
  std::string id;
  std::vector<float> inputs;    // max_steps x 1
  std::vector<float> expected;  // max_steps x width
  int64_t width = 0;
  // Every input kept (max_steps), so a replay from the start stays possible.
  std::unique_ptr<ResendWindow> window;
  std::deque<PendingRequest> queue;  // to send, in order
  std::atomic<int64_t> answered{0};  // window->answered_steps(), for other threads
  std::atomic<int64_t> answers{0};
  std::atomic<int64_t> opens{0};
  std::atomic<int64_t> durable{0};  // window->durable_steps()
  int64_t at_least = 0;             // steps to reach in this Run whatever its `until`
  int answers_on_stream = 0;
  absl::Time opened;  // of the current stream
  bool given_up = false;
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::ClientReaderWriter<v1::StepRequest, v1::StepResponse>> stream;
};

namespace {

void MaxInto(std::atomic<int64_t>& max, int64_t value) {
  int64_t seen = max.load();
  while (value > seen && !max.compare_exchange_weak(seen, value)) {
  }
}

std::string StatusText(const grpc::Status& status) {
  return absl::StrCat(status.error_code(), " ", status.error_message());
}

}  // namespace

SessionLoad::SessionLoad(LoadOptions options) : options_(std::move(options)) {}
SessionLoad::~SessionLoad() = default;

absl::StatusOr<std::unique_ptr<SessionLoad>> SessionLoad::Create(
    const LoadOptions& options, const std::shared_ptr<grpc::Channel>& reference) {
  std::unique_ptr<SessionLoad> load(new SessionLoad(options));
  auto stub = v1::InferenceService::NewStub(reference);
  std::mt19937 random(options.seed);
  std::uniform_real_distribution<float> value(-1.5f, 1.5f);
  for (int i = 0; i < options.sessions; ++i) {
    auto s = std::make_unique<Session>();
    s->id = absl::StrCat(options.id_prefix, "-", i);
    for (int t = 0; t < options.max_steps; ++t) s->inputs.push_back(value(random));
    v1::SequenceRequest request;
    request.mutable_model()->set_name(options.model);
    request.mutable_floats()->mutable_values()->Assign(s->inputs.begin(), s->inputs.end());
    v1::SequenceResponse response;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    const grpc::Status status = stub->RunSequence(&context, request, &response);
    if (!status.ok()) {
      return absl::UnavailableError(absl::StrCat("reference RunSequence: ", StatusText(status)));
    }
    s->expected.assign(response.outputs().values().begin(), response.outputs().values().end());
    s->width = response.outputs().shape(1);
    s->window =
        std::make_unique<ResendWindow>(ResendWindow::Origin::kStarted, 0, options.max_steps);
    load->sessions_.push_back(std::move(s));
  }
  return load;
}

std::vector<std::string> SessionLoad::Run(const std::shared_ptr<grpc::Channel>& proxy, int until,
                                          const std::function<void()>& during,
                                          absl::Duration limit) {
  std::atomic<bool> during_done{during == nullptr};
  std::thread disruption;
  if (during != nullptr) {
    disruption = std::thread([&] {
      during();
      during_done = true;
    });
  }
  const absl::Time give_up = absl::Now() + limit;
  std::vector<std::thread> threads;
  for (int k = 0; k < options_.threads; ++k) {
    threads.emplace_back([this, k, until, give_up, limit, &proxy, &during_done] {
      auto stub = v1::InferenceService::NewStub(proxy);
      while (true) {
        bool busy = false;
        const int64_t common =
            during_done ? until : std::max(options_.max_steps - options_.kept_for_more, until);
        for (size_t i = k; i < sessions_.size(); i += options_.threads) {
          Session& s = *sessions_[i];
          const int64_t target = std::max(common, s.at_least);
          if (s.given_up || (s.queue.empty() && s.window->sent_steps() >= target)) continue;
          busy = true;
          StepOnce(s, *stub);
        }
        if (!busy && during_done) break;
        if (!busy) absl::SleepFor(absl::Milliseconds(10));
        if (busy) absl::SleepFor(options_.pause_between_rounds);
        if (absl::Now() > give_up) {
          absl::MutexLock lock(&mu_);
          failures_.push_back(absl::StrCat("client thread ", k, ": the load did not finish in ",
                                           absl::FormatDuration(limit)));
          break;
        }
      }
      for (size_t i = k; i < sessions_.size(); i += options_.threads) {
        Session& s = *sessions_[i];
        if (s.stream == nullptr) continue;
        s.stream->WritesDone();
        s.stream->Finish().IgnoreError();
        s.stream.reset();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  if (disruption.joinable()) disruption.join();
  absl::MutexLock lock(&mu_);
  std::vector<std::string> failures;
  failures.swap(failures_);
  return failures;
}

std::vector<std::string> SessionLoad::RunMore(const std::shared_ptr<grpc::Channel>& proxy, int more,
                                              absl::Duration limit) {
  std::vector<std::string> no_room;
  for (auto& s : sessions_) {
    s->at_least = s->window->answered_steps() + more;
    if (s->at_least > options_.max_steps && no_room.size() < 20) {
      no_room.push_back(absl::StrCat(s->id, ": at step ", s->window->answered_steps(),
                                     ", no inputs left for ", more, " more (max_steps ",
                                     options_.max_steps, ")"));
    }
    s->at_least = std::min<int64_t>(s->at_least, options_.max_steps);
  }
  std::vector<std::string> failures = Run(proxy, 0, nullptr, limit);
  failures.insert(failures.end(), no_room.begin(), no_room.end());
  for (auto& s : sessions_) s->at_least = 0;
  return failures;
}

void SessionLoad::StepOnce(Session& s, v1::InferenceService::Stub& stub) {
  if (s.queue.empty()) {
    s.queue.push_back(s.window->Send(static_cast<uint64_t>(s.window->sent_steps()), 1));
  }
  if (s.stream != nullptr && absl::Now() > s.opened + options_.stream_deadline / 2) {
    s.stream->WritesDone();
    if (const grpc::Status status = s.stream->Finish(); !status.ok()) Broken(status);
    s.stream.reset();
  }
  if (s.stream == nullptr) {
    s.opened = absl::Now();
    s.context = std::make_unique<grpc::ClientContext>();
    s.context->AddMetadata("x-session-id", s.id);
    s.context->set_deadline(absl::ToChronoTime(absl::Now() + options_.stream_deadline));
    s.stream = stub.StreamSteps(s.context.get());
    s.answers_on_stream = 0;
    ++opens_;
    ++s.opens;
  }
  const PendingRequest sent = s.queue.front();
  v1::StepRequest request;
  request.set_session_id(s.id);
  request.mutable_model()->set_name(options_.model);
  request.set_start(sent.start);
  if (!sent.start) request.set_expected_session_steps(sent.expected_session_steps);
  const int64_t first_input = static_cast<int64_t>(sent.input) + sent.skip;
  for (int64_t k = 0; k < sent.steps; ++k) {
    request.mutable_floats()->add_values(s.inputs[first_input + k]);
  }

  auto apply = [&](const WindowAction& action) {
    switch (action.kind) {
      case WindowAction::Kind::kResend:
        s.queue.assign(action.requests.begin(), action.requests.end());
        break;
      case WindowAction::Kind::kRestart:
        ++restarts_;
        Event(s, absl::StrCat("replayed from the start: ", action.reason));
        s.queue.assign(action.requests.begin(), action.requests.end());
        break;
      case WindowAction::Kind::kLost:
      case WindowAction::Kind::kFail:
        Fail(s, absl::StrCat("the protocol gives the session up: ", action.reason));
        break;
      case WindowAction::Kind::kDeliver:
      case WindowAction::Kind::kIgnore:
        break;
    }
    s.answered = s.window->answered_steps();
    s.durable = s.window->durable_steps();
  };
  auto close_stream = [&](bool cleanly) {
    if (cleanly) s.stream->WritesDone();
    const grpc::Status status = s.stream->Finish();
    if (!cleanly || !status.ok()) Broken(status);
    s.stream.reset();
    s.context.reset();
  };

  v1::StepResponse response;
  if (!s.stream->Write(request) || !s.stream->Read(&response)) {
    close_stream(/*cleanly=*/false);
    apply(s.window->OnBroken("the stream broke"));
    absl::SleepFor(absl::Milliseconds(20));  // a client's reconnect backoff
    return;
  }
  s.queue.pop_front();
  if (!response.has_error()) {
    const WindowAction action =
        s.window->OnAnswer(sent.ticket, response.session_steps(), response.durable_steps());
    if (action.kind == WindowAction::Kind::kDeliver) {
      // Rows of steps [first, first + steps) of the session.
      const int64_t first = sent.expected_session_steps;
      if (response.outputs().values_size() != sent.steps * s.width) {
        return Fail(s, absl::StrCat("step ", first, ": ", response.outputs().values_size(),
                                    " output values, want ", sent.steps * s.width));
      }
      for (int64_t r = 0; r < sent.steps; ++r) {
        for (int64_t j = 0; j < s.width; ++j) {
          const float got = response.outputs().values(r * s.width + j);
          const float want = s.expected[(first + r) * s.width + j];
          if (!(std::abs(got - want) <= 1e-5f)) {
            return Fail(s, absl::StrCat("step ", first + r, ": output ", got, " want ", want,
                                        " (durable_steps ", response.durable_steps(), ")"));
          }
        }
      }
      const int64_t fresh =
          std::clamp<int64_t>(first + sent.steps - action.delivered_before, 0, sent.steps);
      answers_ += sent.steps;
      s.answers += sent.steps;
      new_steps_ += fresh;
      resent_steps_ += sent.steps - fresh;
    }
    apply(action);
  } else {
    const grpc::StatusCode code = static_cast<grpc::StatusCode>(response.error().code());
    const std::string message = response.error().message();
    if (code == grpc::StatusCode::ABORTED) {
      const int64_t stands = response.session_steps();
      if (stands < s.window->durable_steps()) {
        Fail(s, absl::StrCat("came back at step ", stands, " behind its checkpoint at step ",
                             s.window->durable_steps(), " (ABORTED: ", message, ")"));
      }
      const int64_t lost = s.window->answered_steps() - stands;
      ++aborted_;
      Event(s, absl::StrCat("ABORTED at step ", sent.expected_session_steps, ", stands at ", stands,
                            ", durable ", s.window->durable_steps(), ": ", message));
      if (lost > 0) {
        lost_steps_ += lost;
        MaxInto(max_lost_, lost);
      }
      apply(s.window->OnAborted(sent.ticket, stands));
    } else if (code == grpc::StatusCode::NOT_FOUND) {
      ++not_found_;
      Event(s, absl::StrCat("NOT_FOUND at step ", sent.expected_session_steps, ": ", message));
      apply(s.window->OnNotFound(sent.ticket));
    } else if (code == grpc::StatusCode::UNAVAILABLE) {
      // Not applied: the session moved, or this replica drains. A new stream
      // reaches the replica that has it now.
      ++moved_;
      apply(s.window->OnBroken(message));
      close_stream(/*cleanly=*/true);
      absl::SleepFor(absl::Milliseconds(20));
      return;
    } else {
      return Fail(
          s, absl::StrCat("step ", sent.expected_session_steps, ": error ", code, " ", message));
    }
  }
  if (s.given_up) return;
  if (++s.answers_on_stream >= options_.steps_per_stream && s.queue.empty()) {
    close_stream(/*cleanly=*/true);
  }
}

void SessionLoad::Fail(Session& s, const std::string& what) {
  s.given_up = true;
  absl::MutexLock lock(&mu_);
  if (failures_.size() < 20) failures_.push_back(absl::StrCat(s.id, ": ", what));
}

void SessionLoad::Broken(const grpc::Status& status) {
  ++broken_streams_;
  absl::MutexLock lock(&mu_);
  ++broken_by_status_[StatusText(status)];
}

void SessionLoad::Event(const Session& s, const std::string& what) {
  absl::MutexLock lock(&mu_);
  if (events_.size() < 1000) {
    events_.push_back(absl::StrCat(absl::FormatTime("%H:%M:%E3S", absl::Now(), absl::UTCTimeZone()),
                                   " ", s.id, ": ", what));
  }
}

std::vector<std::string> SessionLoad::Events(int64_t from) const {
  absl::MutexLock lock(&mu_);
  if (from >= static_cast<int64_t>(events_.size())) return {};
  return std::vector<std::string>(events_.begin() + from, events_.end());
}

LoadCounts SessionLoad::Counts() const {
  return LoadCounts{.answers = answers_,
                    .new_steps = new_steps_,
                    .resent_steps = resent_steps_,
                    .aborted = aborted_,
                    .lost_steps = lost_steps_,
                    .max_lost = max_lost_,
                    .restarts = restarts_,
                    .not_found = not_found_,
                    .moved = moved_,
                    .broken_streams = broken_streams_,
                    .opens = opens_,
                    .events = [this] {
                      absl::MutexLock lock(&mu_);
                      return static_cast<int64_t>(events_.size());
                    }()};
}

bool SessionLoad::WaitForAnswers(int64_t answers, absl::Duration timeout) const {
  const absl::Time give_up = absl::Now() + timeout;
  while (answers_ < answers) {
    if (absl::Now() > give_up) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

std::map<std::string, int64_t> SessionLoad::BrokenStreamsByStatus() const {
  absl::MutexLock lock(&mu_);
  return broken_by_status_;
}

const std::string& SessionLoad::id(int session) const { return sessions_[session]->id; }

int64_t SessionLoad::answered(int session) const { return sessions_[session]->answered; }

int64_t SessionLoad::answers(int session) const { return sessions_[session]->answers; }

int64_t SessionLoad::opens(int session) const { return sessions_[session]->opens; }

int64_t SessionLoad::durable(int session) const { return sessions_[session]->durable; }

}  // namespace rnnserve::testing
