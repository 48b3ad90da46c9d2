// Every activation against its definition (DESIGN.md section 2, the ONNX
// operator spec for the parameterised ones) in double precision, on inputs
// from far negative to far positive, at every position of an array longer
// than one aligned block; and the config names that choose them.
#include "model/engine/activation.h"

#include <cmath>
#include <functional>
#include <vector>

#include "gtest/gtest.h"

namespace rnnserve::model {
namespace {

struct Definition {
  Activation activation;
  std::function<double(double)> f;
};

std::vector<Definition> Definitions() {
  const double a = 0.7f, b = 0.45f;  // the float parameters, exactly
  return {
      {Activation::Identity(), [](double x) { return x; }},
      {Activation::Sigmoid(), [](double x) { return 1.0 / (1.0 + std::exp(-x)); }},
      {Activation::Tanh(), [](double x) { return std::tanh(x); }},
      {Activation::Relu(), [](double x) { return x > 0.0 ? x : 0.0; }},
      {{ActivationKind::kHardSigmoid, 0.7f, 0.45f},
       [=](double x) { return std::fmin(std::fmax(a * x + b, 0.0), 1.0); }},
      {{ActivationKind::kAffine, 0.7f, 0.45f}, [=](double x) { return a * x + b; }},
      {{ActivationKind::kLeakyRelu, 0.7f}, [=](double x) { return x >= 0.0 ? x : a * x; }},
      {{ActivationKind::kThresholdedRelu, 0.7f}, [=](double x) { return x > a ? x : 0.0; }},
      {{ActivationKind::kScaledTanh, 0.7f, 0.45f}, [=](double x) { return a * std::tanh(b * x); }},
      {{ActivationKind::kElu, 0.7f},
       [=](double x) { return x >= 0.0 ? x : a * (std::exp(x) - 1.0); }},
      {{ActivationKind::kSoftsign}, [](double x) { return x / (1.0 + std::abs(x)); }},
      {{ActivationKind::kSoftplus}, [](double x) { return std::log1p(std::exp(x)); }},
  };
}

// 600 inputs (more than one 256-element aligned block, and a ragged tail)
// from -30 to 30, the parameters' kinks (0, 0.7) included.
std::vector<float> Inputs() {
  std::vector<float> x;
  for (int i = 0; i < 600; ++i) x.push_back(-30.0f + 0.1f * static_cast<float>(i));
  x[17] = 0.0f;
  x[18] = 0.7f;
  x[300] = 0.7f;
  x[301] = -1e-7f;
  return x;
}

TEST(ActivationTest, EveryKindMatchesItsDefinition) {
  for (const Definition& d : Definitions()) {
    SCOPED_TRACE(ActivationToString(d.activation));
    std::vector<float> x = Inputs();
    const std::vector<float> in = x;
    Apply(d.activation, x.data(), static_cast<int64_t>(x.size()));
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = d.f(in[i]);
      // float32 rounding of the result (relative) and of exp/tanh near 0.
      ASSERT_NEAR(x[i], want, 1e-6 + 2e-7 * std::abs(want)) << "x = " << in[i];
    }
  }
}

TEST(ActivationTest, ResultDoesNotDependOnTheArraysAddress) {
  // A session's row sits anywhere in a batch: the same values at another
  // offset must give the same bits.
  for (const Definition& d : Definitions()) {
    std::vector<float> a = Inputs(), b(Inputs().size() + 3);
    std::copy(a.begin(), a.end(), b.begin() + 3);
    Apply(d.activation, a.data(), static_cast<int64_t>(a.size()));
    Apply(d.activation, b.data() + 3, static_cast<int64_t>(a.size()));
    ASSERT_TRUE(std::equal(a.begin(), a.end(), b.begin() + 3)) << ActivationToString(d.activation);
  }
}

TEST(ActivationTest, ClipClampsBothWays) {
  std::vector<float> x = {-5.0f, -0.5f, 0.0f, 0.49f, 7.0f};
  Clip(0.5f, x.data(), static_cast<int64_t>(x.size()));
  EXPECT_EQ(x, (std::vector<float>{-0.5f, -0.5f, 0.0f, 0.49f, 0.5f}));
}

TEST(ActivationTest, ComplementSymmetryHoldsOnlyWhereOneMinusFIsFOfMinusX) {
  EXPECT_TRUE(Activation::Sigmoid().IsComplementSymmetric());
  EXPECT_TRUE(Activation::HardSigmoidKeras2().IsComplementSymmetric());
  EXPECT_TRUE(Activation::HardSigmoidKeras3().IsComplementSymmetric());
  EXPECT_FALSE((Activation{ActivationKind::kHardSigmoid, 0.2f, 0.45f}).IsComplementSymmetric());
  EXPECT_FALSE(Activation::Tanh().IsComplementSymmetric());
  // What the property means, checked on the ones that claim it.
  for (const Activation& f : {Activation::Sigmoid(), Activation::HardSigmoidKeras3()}) {
    std::vector<float> x = Inputs(), negated = Inputs();
    for (float& v : negated) v = -v;
    Apply(f, x.data(), static_cast<int64_t>(x.size()));
    Apply(f, negated.data(), static_cast<int64_t>(negated.size()));
    for (size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(1.0f - x[i], negated[i], 1e-6f) << i;
  }
}

TEST(ActivationTest, ConfigNames) {
  struct Case {
    const char* name;
    const char* flavour;
    Activation want;
  };
  for (const Case& c :
       {Case{"identity", "", Activation::Identity()}, Case{"linear", "", Activation::Identity()},
        Case{"sigmoid", "", Activation::Sigmoid()}, Case{"tanh", "", Activation::Tanh()},
        Case{"relu", "", Activation::Relu()}, Case{"softsign", "", {ActivationKind::kSoftsign}},
        Case{"softplus", "", {ActivationKind::kSoftplus}},
        Case{"elu", "", {ActivationKind::kElu, 1.0f}},
        Case{"hard_sigmoid", "keras2", Activation::HardSigmoidKeras2()},
        Case{"hard_sigmoid", "keras3", Activation::HardSigmoidKeras3()}}) {
    const absl::StatusOr<Activation> got = ActivationFromConfigName(c.name, c.flavour);
    ASSERT_TRUE(got.ok()) << c.name << ": " << got.status();
    EXPECT_EQ(*got, c.want) << c.name;
  }
  EXPECT_EQ(ActivationFromConfigName("hard_sigmoid", "keras4").status().code(),
            absl::StatusCode::kInvalidArgument);
  const absl::StatusOr<Activation> unknown = ActivationFromConfigName("swish", "");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("swish"), std::string::npos);
}

}  // namespace
}  // namespace rnnserve::model
