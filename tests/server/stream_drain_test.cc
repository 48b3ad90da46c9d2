// StreamDrain with streams that only record what they were told: the
// registered ones are held and drained, later ones learn the mode from
// Register(), drained ones are dropped, and unregistered ones are left alone.
// (StepStream under a real shutdown: RnnServerTest.Shutdown*, Handoff*.)
#include "server/stream_drain.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace rnnserve::server {
namespace {

struct RecordingStream : Drainable {
  void Hold() override { ++held; }
  void Drain() override { ++drained; }
  int held = 0;
  int drained = 0;
};

using Mode = StreamDrain::Mode;

TEST(StreamDrainTest, StreamsAreLeftAloneWhileServing) {
  StreamDrain drain;
  RecordingStream stream;
  EXPECT_EQ(drain.Register(&stream), Mode::kServing);
  EXPECT_EQ(stream.held + stream.drained, 0);
}

TEST(StreamDrainTest, HoldAllHoldsEachStreamOnceAndLaterOnesHoldThemselves) {
  StreamDrain drain;
  RecordingStream a, b, late;
  drain.Register(&a);
  drain.Register(&b);
  drain.HoldAll();
  drain.HoldAll();  // a second call changes nothing
  EXPECT_EQ(a.held, 1);
  EXPECT_EQ(b.held, 1);
  // A stream opened now is told to hold itself, and is drained with the rest.
  EXPECT_EQ(drain.Register(&late), Mode::kHolding);
  EXPECT_EQ(late.held, 0);
  drain.DrainAll();
  for (const RecordingStream* s : {&a, &b, &late}) EXPECT_EQ(s->drained, 1);
}

TEST(StreamDrainTest, DrainAllDrainsRegisteredStreamsAndTurnsLaterOnesAway) {
  StreamDrain drain;
  RecordingStream open, closed, late;
  drain.Register(&open);
  drain.Register(&closed);
  drain.Unregister(&closed);  // finished before the shutdown
  drain.DrainAll();
  EXPECT_EQ(open.drained, 1);
  EXPECT_EQ(closed.drained, 0);
  EXPECT_EQ(open.held, 0);
  // A stream opened now finishes itself; it is not kept for a later call.
  EXPECT_EQ(drain.Register(&late), Mode::kDraining);
  drain.HoldAll();  // too late to hold anything
  drain.DrainAll();
  EXPECT_EQ(late.drained, 0);
  EXPECT_EQ(late.held, 0);
  EXPECT_EQ(open.held, 0);
}

TEST(StreamDrainTest, EveryStreamRegisteredBeforeDrainAllIsDrainedWhileOthersComeAndGo) {
  StreamDrain drain;
  constexpr int kThreads = 4, kStreams = 500;
  std::vector<std::vector<RecordingStream>> streams(kThreads,
                                                    std::vector<RecordingStream>(kStreams));
  std::vector<std::vector<Mode>> modes(kThreads, std::vector<Mode>(kStreams));
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) {
      }
      for (int i = 0; i < kStreams; ++i) {
        modes[t][i] = drain.Register(&streams[t][i]);
        if (i % 2 == 1) drain.Unregister(&streams[t][i]);
      }
    });
  }
  go.store(true);
  drain.DrainAll();
  for (std::thread& thread : threads) thread.join();
  // Each stream that was told "serving" and stayed registered was drained
  // exactly once; one told "draining" was never touched.
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kStreams; ++i) {
      const RecordingStream& s = streams[t][i];
      if (modes[t][i] == Mode::kDraining) {
        EXPECT_EQ(s.drained, 0);
      } else if (i % 2 == 0) {
        EXPECT_EQ(s.drained, 1) << t << "/" << i;
      }
      EXPECT_LE(s.drained, 1);
    }
  }
}

}  // namespace
}  // namespace rnnserve::server
