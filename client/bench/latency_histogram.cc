#include "client/bench/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace rnnserve::client::bench {
namespace {

constexpr int kSubBits = 6;  // log2(kSubBuckets)
static_assert(1 << kSubBits == LatencyHistogram::kSubBuckets);

double Midpoint(int bucket) {
  return static_cast<double>(LatencyHistogram::BucketLow(bucket)) +
         static_cast<double>(LatencyHistogram::BucketWidth(bucket) - 1) / 2.0;
}

}  // namespace

int LatencyHistogram::BucketOf(int64_t nanos) {
  if (nanos < kSubBuckets) return static_cast<int>(std::max<int64_t>(nanos, 0));
  const int exponent = std::bit_width(static_cast<uint64_t>(nanos)) - 1;  // >= kSubBits
  if (exponent >= kMaxExponent) return kBuckets - 1;
  const int shift = exponent - kSubBits;
  const int sub = static_cast<int>(nanos >> shift) - kSubBuckets;  // 0..63
  return kSubBuckets + shift * kSubBuckets + sub;
}

int64_t LatencyHistogram::BucketLow(int bucket) {
  if (bucket < kSubBuckets) return bucket;
  const int shift = (bucket - kSubBuckets) / kSubBuckets;
  const int sub = (bucket - kSubBuckets) % kSubBuckets;
  return static_cast<int64_t>(kSubBuckets + sub) << shift;
}

int64_t LatencyHistogram::BucketWidth(int bucket) {
  if (bucket < kSubBuckets) return 1;
  return int64_t{1} << ((bucket - kSubBuckets) / kSubBuckets);
}

void LatencyHistogram::Record(int64_t nanos) {
  nanos = std::max<int64_t>(nanos, 0);
  buckets_[BucketOf(nanos)].fetch_add(1, std::memory_order_relaxed);
  int64_t max = max_nanos_.load(std::memory_order_relaxed);
  while (nanos > max && !max_nanos_.compare_exchange_weak(max, nanos, std::memory_order_relaxed)) {
  }
}

HistogramSnapshot LatencyHistogram::Snapshot() const {
  HistogramSnapshot snapshot;
  snapshot.buckets_.resize(kBuckets);
  for (int b = 0; b < kBuckets; ++b) {
    snapshot.buckets_[b] = buckets_[b].load(std::memory_order_relaxed);
    snapshot.count_ += snapshot.buckets_[b];
  }
  snapshot.max_nanos_ = max_nanos_.load(std::memory_order_relaxed);
  return snapshot;
}

HistogramSnapshot HistogramSnapshot::Since(const HistogramSnapshot& earlier) const {
  HistogramSnapshot diff;
  diff.buckets_.resize(buckets_.size());
  for (size_t b = 0; b < buckets_.size(); ++b) {
    const uint64_t before = b < earlier.buckets_.size() ? earlier.buckets_[b] : 0;
    diff.buckets_[b] = buckets_[b] - std::min(before, buckets_[b]);
    diff.count_ += diff.buckets_[b];
    if (diff.buckets_[b] > 0) {
      const int bucket = static_cast<int>(b);
      diff.max_nanos_ =
          LatencyHistogram::BucketLow(bucket) + LatencyHistogram::BucketWidth(bucket) - 1;
    }
  }
  diff.max_nanos_ = std::min(diff.max_nanos_, max_nanos_);
  return diff;
}

double HistogramSnapshot::QuantileMicros(double q) const {
  if (count_ == 0) return 0;
  const uint64_t rank =
      std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    seen += buckets_[b];
    if (seen >= rank) {
      // The midpoint, but never above the largest sample seen.
      return std::min(Midpoint(static_cast<int>(b)), static_cast<double>(max_nanos_)) / 1e3;
    }
  }
  return MaxMicros();
}

double HistogramSnapshot::MeanMicros() const {
  if (count_ == 0) return 0;
  double sum = 0;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    if (buckets_[b] > 0) sum += static_cast<double>(buckets_[b]) * Midpoint(static_cast<int>(b));
  }
  return sum / static_cast<double>(count_) / 1e3;
}

}  // namespace rnnserve::client::bench
