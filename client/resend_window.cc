#include "client/resend_window.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace rnnserve::client {

ResendWindow::ResendWindow(Origin origin, int64_t session_steps, int64_t max_kept_steps)
    : max_kept_steps_(std::max<int64_t>(max_kept_steps, 1)) {
  const int64_t base = origin == Origin::kStarted ? 0 : session_steps;
  answered_ = sent_ = delivered_ = base;
  complete_ = origin == Origin::kStarted;
  next_starts_ = origin == Origin::kStarted;
}

PendingRequest ResendWindow::Send(uint64_t input, int64_t steps) {
  Entry entry{.first = sent_,
              .steps = steps,
              .input = input,
              .skip = 0,
              .ticket = next_ticket_++,
              .answered = false,
              .start = next_starts_};
  next_starts_ = false;
  entries_.push_back(entry);
  kept_steps_ += steps;
  sent_ += steps;
  return PendingRequest{.input = input,
                        .skip = 0,
                        .steps = steps,
                        .expected_session_steps = entry.first,
                        .start = entry.start,
                        .ticket = entry.ticket};
}

ResendWindow::Entry* ResendWindow::InFlight(uint64_t ticket) {
  for (Entry& entry : entries_) {
    if (!entry.answered && entry.ticket == ticket) return &entry;
  }
  return nullptr;
}

WindowAction ResendWindow::OnAnswer(uint64_t ticket, int64_t session_steps, int64_t durable_steps) {
  Entry* entry = InFlight(ticket);
  if (entry == nullptr) return WindowAction{};
  const int64_t want = entry->first + entry->steps;
  if (session_steps != want) {
    // The request was applied where the session stood instead of refused:
    // the server does not check expected_session_steps, so the state no
    // longer follows the inputs and only a replay can repair it.
    return RestartOrLose(absl::StrCat("a request sent at step ", entry->first,
                                      " was applied at step ", session_steps - entry->steps,
                                      " (the server does not check expected_session_steps)"));
  }
  entry->answered = true;
  answered_ = want;
  durable_ = std::max(durable_, std::min(durable_steps, want));
  WindowAction action;
  action.kind = WindowAction::Kind::kDeliver;
  action.delivered_before = delivered_;
  delivered_ = std::max(delivered_, want);
  Trim();
  return action;
}

WindowAction ResendWindow::OnAborted(uint64_t ticket, std::optional<int64_t> session_steps) {
  Entry* entry = InFlight(ticket);
  if (entry == nullptr) return WindowAction{};
  if (entry->start) {
    // A start ignores expectations, so this refusal is about something else.
    return WindowAction{.kind = WindowAction::Kind::kFail};
  }
  if (!session_steps.has_value()) return OnBroken("ABORTED without the session's steps");
  const int64_t n = *session_steps;
  if (n > answered_) {
    return RestartOrLose(absl::StrCat("the session stands at step ", n, ", past the ", answered_,
                                      " steps answered here (answers were lost)"));
  }
  const int64_t kept_from = entries_.empty() ? sent_ : entries_.front().first;
  if (n < kept_from) {
    return WindowAction{
        .kind = WindowAction::Kind::kLost,
        .reason = absl::StrCat("the session came back at step ", n,
                               " but the inputs after it are no longer kept (kept from step ",
                               kept_from, ")")};
  }
  return WindowAction{.kind = WindowAction::Kind::kResend,
                      .requests = SendAgainFrom(n),
                      .reason = absl::StrCat("the session stands at step ", n)};
}

WindowAction ResendWindow::OnNotFound(uint64_t ticket) {
  Entry* entry = InFlight(ticket);
  if (entry == nullptr) return WindowAction{};
  if (entry->start) return WindowAction{.kind = WindowAction::Kind::kFail};
  return RestartOrLose("the server no longer has the session (NOT_FOUND)");
}

void ResendWindow::OnRefused(uint64_t ticket) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [ticket](const Entry& e) { return !e.answered && e.ticket == ticket; });
  if (it == entries_.end()) return;
  const int64_t steps = it->steps;
  const bool start = it->start;
  it = entries_.erase(it);
  for (auto later = it; later != entries_.end(); ++later) later->first -= steps;
  if (start) {
    // The session was never started: the next request starts it.
    if (it != entries_.end()) {
      it->start = true;
    } else {
      next_starts_ = true;
    }
  }
  kept_steps_ -= steps;
  sent_ -= steps;
}

WindowAction ResendWindow::OnBroken(std::string reason) {
  return WindowAction{.kind = WindowAction::Kind::kResend,
                      .requests = SendAgainFrom(answered_),
                      .reason = std::move(reason)};
}

std::vector<PendingRequest> ResendWindow::SendAgainFrom(int64_t from) {
  std::vector<PendingRequest> requests;
  for (size_t i = 0; i < entries_.size(); ++i) {
    Entry& entry = entries_[i];
    if (entry.first + entry.steps <= from) continue;
    if (entry.first < from) {
      // The session stands inside this request (a server stepping chunks in
      // parts): keep its head, send its tail.
      Entry tail = entry;
      tail.first = from;
      tail.steps = entry.first + entry.steps - from;
      tail.skip = entry.skip + (from - entry.first);
      tail.start = false;
      entry.steps = from - entry.first;
      entries_.insert(entries_.begin() + static_cast<std::ptrdiff_t>(i) + 1, tail);
      continue;  // the tail is next
    }
    entry.answered = false;
    entry.ticket = next_ticket_++;
    requests.push_back(PendingRequest{.input = entry.input,
                                      .skip = entry.skip,
                                      .steps = entry.steps,
                                      .expected_session_steps = entry.first,
                                      .start = entry.start,
                                      .ticket = entry.ticket});
  }
  answered_ = from;
  return requests;
}

WindowAction ResendWindow::RestartOrLose(std::string why) {
  if (!complete_) {
    return WindowAction{
        .kind = WindowAction::Kind::kLost,
        .reason = absl::StrCat(why,
                               "; the inputs from its start are not all kept here, so it "
                               "cannot be replayed")};
  }
  // complete_: the entries run from step 0, the first one started the session.
  entries_.front().start = true;
  for (Entry& entry : entries_) entry.answered = false;
  durable_ = 0;  // a new session has no checkpoint yet
  return WindowAction{
      .kind = WindowAction::Kind::kRestart, .requests = SendAgainFrom(0), .reason = std::move(why)};
}

void ResendWindow::Trim() {
  if (kept_steps_ <= max_kept_steps_) return;  // short: all kept, a replay stays possible
  auto drop_front = [this] {
    kept_steps_ -= entries_.front().steps;
    entries_.pop_front();
    complete_ = false;
  };
  // A long session: what a checkpoint covers is never needed again...
  while (!entries_.empty() && entries_.front().answered &&
         entries_.front().first + entries_.front().steps <= durable_) {
    drop_front();
  }
  // ... and the bound holds even when nothing is checkpointed (no session
  // store): a rollback past the dropped steps then loses the session.
  while (kept_steps_ > max_kept_steps_ && !entries_.empty() && entries_.front().answered) {
    drop_front();
  }
}

std::optional<uint64_t> ResendWindow::oldest_input() const {
  if (entries_.empty()) return std::nullopt;
  return entries_.front().input;
}

}  // namespace rnnserve::client
