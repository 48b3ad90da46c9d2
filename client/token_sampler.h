// Draws the next token from a model's output row, for `generate`.
// Deterministic for a seed: std::mt19937_64's sequence is fixed by the C++
// standard, and the uniform draw is our own (the standard distributions
// differ between library implementations). Not thread-safe.
#ifndef RNNSERVE_CLIENT_TOKEN_SAMPLER_H_
#define RNNSERVE_CLIENT_TOKEN_SAMPLER_H_

#include <cstdint>
#include <random>
#include <vector>

namespace rnnserve::client {

class TokenSampler {
 public:
  // `temperature` 0 always takes the most likely token; 1 samples the
  // model's distribution; above 1 flattens it, below 1 sharpens it.
  TokenSampler(double temperature, uint64_t seed) : temperature_(temperature), rng_(seed) {}

  // One of [0, n), never `excluded` (-1: none). `row` holds probabilities
  // (a softmax head: all >= 0, summing to 1 within 1e-3) or else logits;
  // ModelInfo does not say which head a model has, so the row itself is
  // looked at. REQUIRES: n > 0 and some id other than `excluded`.
  int64_t Sample(const float* row, int64_t n, int64_t excluded);

 private:
  const double temperature_;
  std::mt19937_64 rng_;
  std::vector<double> weights_;
};

}  // namespace rnnserve::client

#endif  // RNNSERVE_CLIENT_TOKEN_SAMPLER_H_
