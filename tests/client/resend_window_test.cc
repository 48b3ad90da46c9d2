// ResendWindow: what a client sends again after ABORTED(N), a broken stream
// or NOT_FOUND, and how many inputs it keeps.
#include "client/resend_window.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rnnserve::client {
namespace {

using Kind = WindowAction::Kind;
using ::testing::HasSubstr;

// The requests of `action` as (input, skip, steps, expected, start).
struct Sent {
  uint64_t input;
  int64_t skip;
  int64_t steps;
  int64_t expected;
  bool start;
  bool operator==(const Sent&) const = default;
  friend std::ostream& operator<<(std::ostream& out, const Sent& s) {
    return out << "{input " << s.input << " skip " << s.skip << " steps " << s.steps << " expected "
               << s.expected << (s.start ? " start}" : "}");
  }
};

std::vector<Sent> Requests(const WindowAction& action) {
  std::vector<Sent> out;
  for (const PendingRequest& r : action.requests) {
    out.push_back({r.input, r.skip, r.steps, r.expected_session_steps, r.start});
  }
  return out;
}

// Sends input `input` of `steps` steps and has it answered.
void SendAnswered(ResendWindow& window, uint64_t input, int64_t steps, int64_t durable = 0) {
  const PendingRequest r = window.Send(input, steps);
  const WindowAction a = window.OnAnswer(r.ticket, r.expected_session_steps + r.steps, durable);
  ASSERT_EQ(a.kind, Kind::kDeliver);
}

TEST(ResendWindowTest, EveryRequestCarriesTheStepsBeforeIt) {
  ResendWindow window(ResendWindow::Origin::kStarted, 0, 100);
  const PendingRequest first = window.Send(1, 3);
  EXPECT_TRUE(first.start);
  EXPECT_EQ(first.expected_session_steps, 0);
  // Pipelined: the second counts the first, unanswered yet.
  const PendingRequest second = window.Send(2, 2);
  EXPECT_FALSE(second.start);
  EXPECT_EQ(second.expected_session_steps, 3);
  EXPECT_EQ(window.sent_steps(), 5);
  EXPECT_EQ(window.answered_steps(), 0);
  EXPECT_EQ(window.OnAnswer(first.ticket, 3, 0).kind, Kind::kDeliver);
  EXPECT_EQ(window.answered_steps(), 3);
  EXPECT_EQ(window.Send(3, 1).expected_session_steps, 5);
}

TEST(ResendWindowTest, AContinuedSessionCountsFromWhereItStood) {
  ResendWindow window(ResendWindow::Origin::kContinued, 40, 100);
  const PendingRequest r = window.Send(1, 2);
  EXPECT_FALSE(r.start);
  EXPECT_EQ(r.expected_session_steps, 40);
  const WindowAction a = window.OnAnswer(r.ticket, 42, 0);
  EXPECT_EQ(a.kind, Kind::kDeliver);
  EXPECT_EQ(a.delivered_before, 40);
  EXPECT_FALSE(window.complete());
}

TEST(ResendWindowTest, AbortedAtTheAnsweredCountResendsWhatWasInFlight) {
  ResendWindow window(ResendWindow::Origin::kStarted, 0, 100);
  SendAnswered(window, 1, 2);
  SendAnswered(window, 2, 2);
  const PendingRequest r3 = window.Send(3, 2);
  const PendingRequest r4 = window.Send(4, 1);
  const WindowAction a = window.OnAborted(r3.ticket, 4);
  ASSERT_EQ(a.kind, Kind::kResend);
  EXPECT_THAT(Requests(a),
              ::testing::ElementsAre(Sent{3, 0, 2, 4, false}, Sent{4, 0, 1, 6, false}));
  // The outcome of r4 as first sent (the same stream) is stale now.
  EXPECT_EQ(window.OnAborted(r4.ticket, 4).kind, Kind::kIgnore);
  EXPECT_EQ(window.OnAnswer(r4.ticket, 7, 0).kind, Kind::kIgnore);
  // The resent ones are answered; both are new outputs.
  WindowAction answer = window.OnAnswer(a.requests[0].ticket, 6, 0);
  EXPECT_EQ(answer.kind, Kind::kDeliver);
  EXPECT_EQ(answer.delivered_before, 4);
  answer = window.OnAnswer(a.requests[1].ticket, 7, 0);
  EXPECT_EQ(answer.delivered_before, 6);
  EXPECT_EQ(window.delivered_steps(), 7);
}

TEST(ResendWindowTest, AbortedBehindTheAnswersResendsFromThereAndRepeatsNothing) {
  // A crash restored the session from a checkpoint at step 3 while the client
  // had answers up to 6.
  ResendWindow window(ResendWindow::Origin::kStarted, 0, 100);
  SendAnswered(window, 1, 3);
  SendAnswered(window, 2, 1);
  SendAnswered(window, 3, 2);
  const PendingRequest r = window.Send(4, 1);
  const WindowAction a = window.OnAborted(r.ticket, 3);
  ASSERT_EQ(a.kind, Kind::kResend);
  EXPECT_THAT(Requests(a), ::testing::ElementsAre(Sent{2, 0, 1, 3, false}, Sent{3, 0, 2, 4, false},
                                                  Sent{4, 0, 1, 6, false}));
  EXPECT_EQ(window.answered_steps(), 3);
  // Steps 4..6 were shown already: their answers show nothing new.
  EXPECT_EQ(window.OnAnswer(a.requests[0].ticket, 4, 0).delivered_before, 6);
  EXPECT_EQ(window.OnAnswer(a.requests[1].ticket, 6, 0).delivered_before, 6);
  const WindowAction last = window.OnAnswer(a.requests[2].ticket, 7, 0);
  EXPECT_EQ(last.delivered_before, 6);  // step 7 is new
  EXPECT_EQ(window.delivered_steps(), 7);
}

TEST(ResendWindowTest, AbortedInsideAChunkSendsItsTail) {
  ResendWindow window(ResendWindow::Origin::kStarted, 0, 100);
  SendAnswered(window, 1, 5);
  const PendingRequest r = window.Send(2, 1);
  const WindowAction a = window.OnAborted(r.ticket, 2);
  ASSERT_EQ(a.kind, Kind::kResend);
  EXPECT_THAT(Requests(a),
              ::testing::ElementsAre(Sent{1, 2, 3, 2, false}, Sent{2, 0, 1, 5, false}));
  // The head stays kept: a later replay still has every input.
  EXPECT_EQ(window.kept_steps(), 6);
  EXPECT_TRUE(window.complete());
  window.OnAnswer(a.requests[0].ticket, 5, 0);
  window.OnAnswer(a.requests[1].ticket, 6, 0);
  const PendingRequest next = window.Send(3, 1);
  const WindowAction lost = window.OnNotFound(next.ticket);
  ASSERT_EQ(lost.kind, Kind::kRestart);
  EXPECT_THAT(Requests(lost),
              ::testing::ElementsAre(Sent{1, 0, 2, 0, true}, Sent{1, 2, 3, 2, false},
                                     Sent{2, 0, 1, 5, false}, Sent{3, 0, 1, 6, false}));
}

TEST(ResendWindowTest, AbortedAheadOfTheAnswersRestartsAndReplays) {
  // The server computed a step whose answer the crash lost.
  ResendWindow window(ResendWindow::Origin::kStarted, 0, 100);
  SendAnswered(window, 1, 1);
  SendAnswered(window, 2, 1);
  const PendingRequest r = window.Send(3, 1);
  const WindowAction a = window.OnAborted(r.ticket, 3);
  ASSERT_EQ(a.kind, Kind::kRestart);
  EXPECT_THAT(a.reason, HasSubstr("stands at step 3, past the 2 steps answered"));
  EXPECT_THAT(Requests(a), ::testing::ElementsAre(Sent{1, 0, 1, 0, true}, Sent{2, 0, 1, 1, false},
                                                  Sent{3, 0, 1, 2, false}));
  EXPECT_EQ(window.answered_steps(), 0);
  EXPECT_EQ(window.durable_steps(), 0);
  // The replay's first two answers repeat what was shown; the third is new.
  EXPECT_EQ(window.OnAnswer(a.requests[0].ticket, 1, 0).delivered_before, 2);
  EXPECT_EQ(window.OnAnswer(a.requests[1].ticket, 2, 0).delivered_before, 2);
  EXPECT_EQ(window.OnAnswer(a.requests[2].ticket, 3, 0).delivered_before, 2);
  EXPECT_EQ(window.delivered_steps(), 3);
}

TEST(ResendWindowTest, AbortedAheadOfAContinuedSessionIsLost) {
  ResendWindow window(ResendWindow::Origin::kContinued, 10, 100);
  SendAnswered(window, 1, 1);
  const PendingRequest r = window.Send(2, 1);
  const WindowAction a = window.OnAborted(r.ticket, 12);
  EXPECT_EQ(a.kind, Kind::kLost);
  EXPECT_THAT(a.reason, HasSubstr("cannot be replayed"));
}

TEST(ResendWindowTest, AbortedWithoutTheStepsSendsAgainAsIs) {
  ResendWindow window(ResendWindow::Origin::kStarted, 0, 100);
  SendAnswered(window, 1, 1);
  const PendingRequest r = window.Send(2, 1);
  const WindowAction a = window.OnAborted(r.ticket, std::nullopt);
  ASSERT_EQ(a.kind, Kind::kResend);
  EXPECT_THAT(Requests(a), ::testing::ElementsAre(Sent{2, 0, 1, 1, false}));
}

TEST(ResendWindowTest, BrokenStreamResendsTheUnansweredWithTheirExpectations) {
  ResendWindow window(ResendWindow::Origin::kStarted, 0, 100);
  const PendingRequest start = window.Send(1, 2);
  WindowAction a = window.OnBroken("stream broke");
  ASSERT_EQ(a.kind, Kind::kResend);
  // The start is sent again as a start: it resets whatever the first got to.
  EXPECT_THAT(Requests(a), ::testing::ElementsAre(Sent{1, 0, 2, 0, true}));
  EXPECT_EQ(window.OnAnswer(start.ticket, 2, 0).kind, Kind::kIgnore);
  window.OnAnswer(a.requests[0].ticket, 2, 0);
  const PendingRequest r2 = window.Send(2, 1);
  const PendingRequest r3 = window.Send(3, 1);
  a = window.OnBroken("replica gone");
  EXPECT_THAT(Requests(a),
              ::testing::ElementsAre(Sent{2, 0, 1, 2, false}, Sent{3, 0, 1, 3, false}));
  EXPECT_EQ(window.OnAnswer(r2.ticket, 3, 0).kind, Kind::kIgnore);
  EXPECT_EQ(window.OnAnswer(r3.ticket, 4, 0).kind, Kind::kIgnore);
  // Nothing in flight: nothing to send.
  window.OnAnswer(a.requests[0].ticket, 3, 0);
  window.OnAnswer(a.requests[1].ticket, 4, 0);
  EXPECT_TRUE(window.OnBroken("idle").requests.empty());
}

TEST(ResendWindowTest, NotFoundRestartsAStartedSessionAndLosesAContinuedOne) {
  ResendWindow started(ResendWindow::Origin::kStarted, 0, 100);
  SendAnswered(started, 7, 2);
  PendingRequest r = started.Send(8, 1);
  WindowAction a = started.OnNotFound(r.ticket);
  ASSERT_EQ(a.kind, Kind::kRestart);
  EXPECT_THAT(Requests(a), ::testing::ElementsAre(Sent{7, 0, 2, 0, true}, Sent{8, 0, 1, 2, false}));

  ResendWindow continued(ResendWindow::Origin::kContinued, 5, 100);
  r = continued.Send(1, 1);
  a = continued.OnNotFound(r.ticket);
  EXPECT_EQ(a.kind, Kind::kLost);
  EXPECT_THAT(a.reason, HasSubstr("NOT_FOUND"));
}

TEST(ResendWindowTest, NotFoundOrAbortedForTheStartIsNoSessionProblem) {
  ResendWindow window(ResendWindow::Origin::kStarted, 0, 100);
  PendingRequest r = window.Send(1, 1);
  EXPECT_EQ(window.OnNotFound(r.ticket).kind, Kind::kFail);  // e.g. no such model
  EXPECT_EQ(window.OnAborted(r.ticket, 0).kind, Kind::kFail);
}

TEST(ResendWindowTest, AnAnswerAtTheWrongStepMeansTheServerIgnoredTheExpectation) {
  ResendWindow window(ResendWindow::Origin::kStarted, 0, 100);
  SendAnswered(window, 1, 1);
  SendAnswered(window, 2, 1);
  const PendingRequest r = window.Send(3, 1);
  // The session came back at step 1 and the request was applied there.
  WindowAction a = window.OnAnswer(r.ticket, 2, 0);
  ASSERT_EQ(a.kind, Kind::kRestart);
  EXPECT_THAT(a.reason, HasSubstr("does not check expected_session_steps"));
  EXPECT_EQ(a.requests.size(), 3u);

  ResendWindow continued(ResendWindow::Origin::kContinued, 9, 100);
  const PendingRequest c = continued.Send(1, 1);
  EXPECT_EQ(continued.OnAnswer(c.ticket, 3, 0).kind, Kind::kLost);
}

TEST(ResendWindowTest, ARefusedRequestIsForgotten) {
  ResendWindow window(ResendWindow::Origin::kStarted, 0, 100);
  // A start refused (session limit): the next request starts it instead.
  PendingRequest r = window.Send(1, 2);
  window.OnRefused(r.ticket);
  EXPECT_EQ(window.sent_steps(), 0);
  r = window.Send(2, 1);
  EXPECT_TRUE(r.start);
  window.OnAnswer(r.ticket, 1, 0);
  // Refused with another in flight after it: that one moves up a step and,
  // refused ABORTED at the count without the refused one, is sent again.
  const PendingRequest refused = window.Send(3, 1);
  const PendingRequest later = window.Send(4, 2);
  window.OnRefused(refused.ticket);
  EXPECT_EQ(window.sent_steps(), 3);
  const WindowAction a = window.OnAborted(later.ticket, 1);
  ASSERT_EQ(a.kind, Kind::kResend);
  EXPECT_THAT(Requests(a), ::testing::ElementsAre(Sent{4, 0, 2, 1, false}));
  EXPECT_EQ(window.kept_steps(), 3);
}

TEST(ResendWindowTest, AShortSessionKeepsEveryInput) {
  ResendWindow window(ResendWindow::Origin::kStarted, 0, 10);
  for (uint64_t i = 0; i < 10; ++i) SendAnswered(window, i, 1, /*durable=*/i + 1);
  EXPECT_EQ(window.kept_steps(), 10);
  EXPECT_TRUE(window.complete());
  EXPECT_EQ(window.oldest_input(), 0u);
}

TEST(ResendWindowTest, ALongSessionKeepsOnlyWhatNoCheckpointCovers) {
  ResendWindow window(ResendWindow::Origin::kStarted, 0, 10);
  for (uint64_t i = 0; i < 10; ++i) SendAnswered(window, i, 1, /*durable=*/0);
  SendAnswered(window, 10, 1, /*durable=*/8);  // past the bound: steps 1..8 are checkpointed
  EXPECT_EQ(window.kept_steps(), 3);
  EXPECT_FALSE(window.complete());
  EXPECT_EQ(window.oldest_input(), 8u);
  EXPECT_EQ(window.durable_steps(), 8);
  // Back to the checkpoint: resent from there.
  PendingRequest r = window.Send(11, 1);
  WindowAction a = window.OnAborted(r.ticket, 8);
  ASSERT_EQ(a.kind, Kind::kResend);
  EXPECT_THAT(Requests(a),
              ::testing::ElementsAre(Sent{8, 0, 1, 8, false}, Sent{9, 0, 1, 9, false},
                                     Sent{10, 0, 1, 10, false}, Sent{11, 0, 1, 11, false}));
  for (const PendingRequest& p : a.requests) {
    window.OnAnswer(p.ticket, p.expected_session_steps + 1, 8);
  }
  // Behind the checkpoint (not what a server does): lost, not replayable.
  r = window.Send(12, 1);
  a = window.OnAborted(r.ticket, 5);
  EXPECT_EQ(a.kind, Kind::kLost);
  EXPECT_THAT(a.reason, HasSubstr("kept from step 8"));
  r = window.Send(13, 1);
  EXPECT_EQ(window.OnNotFound(r.ticket).kind, Kind::kLost);
}

TEST(ResendWindowTest, TheBoundHoldsWithoutCheckpoints) {
  // No session store: durable_steps stays 0, and memory must stay bounded.
  ResendWindow window(ResendWindow::Origin::kStarted, 0, 4);
  for (uint64_t i = 0; i < 1000; ++i) SendAnswered(window, i, 3);
  EXPECT_LE(window.kept_steps(), 4);
  EXPECT_EQ(window.oldest_input(), 999u);
  // Unanswered requests are never dropped, whatever the bound.
  std::vector<PendingRequest> in_flight;
  for (uint64_t i = 1000; i < 1010; ++i) in_flight.push_back(window.Send(i, 1));
  EXPECT_EQ(window.kept_steps(), 13);
  const WindowAction a = window.OnBroken("broke");
  EXPECT_EQ(a.requests.size(), 10u);
}

TEST(ResendWindowTest, DurableNeverPassesTheAnswers) {
  ResendWindow window(ResendWindow::Origin::kStarted, 0, 100);
  SendAnswered(window, 1, 2, /*durable=*/50);
  EXPECT_EQ(window.durable_steps(), 2);
  SendAnswered(window, 2, 2, /*durable=*/1);  // an older checkpoint's count
  EXPECT_EQ(window.durable_steps(), 2);
}

}  // namespace
}  // namespace rnnserve::client
