#include "client/token_sampler.h"

#include <cmath>
#include <limits>

namespace rnnserve::client {

int64_t TokenSampler::Sample(const float* row, int64_t n, int64_t excluded) {
  double sum = 0;
  bool probabilities = true;
  for (int64_t i = 0; i < n; ++i) {
    probabilities = probabilities && row[i] >= 0;
    sum += row[i];
  }
  probabilities = probabilities && std::fabs(sum - 1.0) < 1e-3;
  // Scores in log space either way, so temperature means the same thing:
  // p^(1/t) renormalised is softmax(log p / t).
  constexpr double kMinus = -std::numeric_limits<double>::infinity();
  double best = kMinus;
  int64_t best_id = excluded == 0 ? 1 : 0;
  weights_.assign(n, kMinus);
  for (int64_t i = 0; i < n; ++i) {
    if (i == excluded) continue;
    weights_[i] = probabilities ? (row[i] > 0 ? std::log(static_cast<double>(row[i])) : kMinus)
                                : static_cast<double>(row[i]);
    if (weights_[i] > best) {
      best = weights_[i];
      best_id = i;
    }
  }
  if (temperature_ <= 0 || best == kMinus) return best_id;
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    weights_[i] = weights_[i] == kMinus ? 0 : std::exp((weights_[i] - best) / temperature_);
    total += weights_[i];
  }
  // 53 random bits make a double in [0, 1).
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53 * total;
  double cumulative = 0;
  for (int64_t i = 0; i < n; ++i) {
    cumulative += weights_[i];
    if (u < cumulative) return i;
  }
  return best_id;  // u rounded past the total
}

}  // namespace rnnserve::client
