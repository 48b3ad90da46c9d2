#include <cmath>
#include <random>
#include <thread>
#include <vector>

#include "client/bench/latency_histogram.h"
#include "gtest/gtest.h"

namespace rnnserve::client::bench {
namespace {

TEST(LatencyHistogram, Empty) {
  LatencyHistogram histogram;
  const HistogramSnapshot s = histogram.Snapshot();
  EXPECT_EQ(s.count(), 0u);
  EXPECT_EQ(s.QuantileMicros(0.5), 0);
  EXPECT_EQ(s.MaxMicros(), 0);
}

TEST(LatencyHistogram, BucketsTileTheRangeWithoutGaps) {
  for (int b = 0; b + 1 < LatencyHistogram::kBuckets; ++b) {
    ASSERT_EQ(LatencyHistogram::BucketLow(b) + LatencyHistogram::BucketWidth(b),
              LatencyHistogram::BucketLow(b + 1))
        << b;
    ASSERT_EQ(LatencyHistogram::BucketOf(LatencyHistogram::BucketLow(b)), b);
    ASSERT_EQ(LatencyHistogram::BucketOf(LatencyHistogram::BucketLow(b + 1) - 1), b);
  }
  EXPECT_EQ(LatencyHistogram::BucketOf(int64_t{1} << 50), LatencyHistogram::kBuckets - 1);
  EXPECT_EQ(LatencyHistogram::BucketOf(-5), 0);
}

TEST(LatencyHistogram, QuantilesWithinTheResolution) {
  // 1..100000 us, uniformly: the q-quantile is q * 100000 us.
  LatencyHistogram histogram;
  for (int64_t us = 1; us <= 100000; ++us) histogram.Record(us * 1000);
  const HistogramSnapshot s = histogram.Snapshot();
  EXPECT_EQ(s.count(), 100000u);
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    EXPECT_NEAR(s.QuantileMicros(q), q * 100000, q * 100000 * 0.008) << q;
  }
  EXPECT_EQ(s.MaxMicros(), 100000);
  EXPECT_NEAR(s.MeanMicros(), 50000.5, 50000 * 0.008);
  EXPECT_LE(s.QuantileMicros(1.0), s.MaxMicros());
}

TEST(LatencyHistogram, SinceGivesTheInterval) {
  LatencyHistogram histogram;
  for (int i = 0; i < 1000; ++i) histogram.Record(1'000'000);  // 1 ms
  const HistogramSnapshot before = histogram.Snapshot();
  for (int i = 0; i < 10; ++i) histogram.Record(50'000);  // 50 us
  const HistogramSnapshot interval = histogram.Snapshot().Since(before);
  EXPECT_EQ(interval.count(), 10u);
  EXPECT_NEAR(interval.QuantileMicros(0.99), 50, 0.5);
  EXPECT_LT(interval.MaxMicros(), 51);
}

TEST(LatencyHistogram, RecordsFromManyThreads) {
  LatencyHistogram histogram;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&histogram, t] {
      for (int i = 0; i < 10000; ++i) histogram.Record(1000 * (t + 1));
    });
  }
  for (std::thread& t : threads) t.join();
  const HistogramSnapshot s = histogram.Snapshot();
  EXPECT_EQ(s.count(), 40000u);
  EXPECT_EQ(s.MaxMicros(), 4);
}

}  // namespace
}  // namespace rnnserve::client::bench
