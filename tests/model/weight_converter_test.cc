// The weight converter on its own: gate blocks moved from each framework's
// order into the kernel's (LSTM i,f,g,o; GRU r,z,n), as rows (PyTorch, ONNX)
// or columns (Keras); the swapped GRU update rewritten by negating z; and
// ConvertWeights on a hand-written safetensors file: PyTorch's [H, in]
// matrices transposed (checked by running one step against the equation) and
// every missing, mis-shaped or left-over tensor refused by name.
#include "model/importers/weight_converter.h"

#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rnnserve::model {
namespace {

using ::testing::HasSubstr;

constexpr int kHidden = 2;

// Value of source row/column `index` in gate block `gate`: 100 * (gate + 1)
// + 10 * index + other, so every moved element says where it came from.
double Tag(int gate, int index, int other) { return 100.0 * (gate + 1) + 10.0 * index + other; }

// For each internal gate (by letter), the gate block it must come from in a
// source whose gates are in `source_order` (letters), found by name here.
std::vector<int> SourceBlocks(const std::string& internal, const std::string& source_order) {
  std::vector<int> blocks;
  for (char gate : internal) blocks.push_back(static_cast<int>(source_order.find(gate)));
  return blocks;
}

TEST(WeightConverterTest, FuseGateRowsMovesEachSourceBlockToItsInternalPlace) {
  struct Case {
    GateOrder order;
    std::string internal, source;
  };
  // ONNX LSTM i,o,f,c (c = the candidate g); ONNX GRU z,r,h (h = n).
  for (const Case& c : {Case{kLstmFromIofc, "ifgo", "iofg"}, Case{kLstmFromIfgo, "ifgo", "ifgo"},
                        Case{kGruFromZrh, "rzn", "zrn"}, Case{kGruFromRzn, "rzn", "rzn"}}) {
    const int gates = static_cast<int>(c.internal.size());
    constexpr int kIn = 3;
    RowMatrix rows(gates * kHidden, kIn);  // [G*H, in], gate blocks as rows
    for (int g = 0; g < gates; ++g) {
      for (int j = 0; j < kHidden; ++j) {
        for (int k = 0; k < kIn; ++k) rows(g * kHidden + j, k) = Tag(g, j, k);
      }
    }
    const RowMatrix fused = FuseGateRows(rows, c.order, kHidden);
    ASSERT_EQ(fused.rows(), kIn);
    ASSERT_EQ(fused.cols(), gates * kHidden);
    const std::vector<int> from = SourceBlocks(c.internal, c.source);
    for (int g = 0; g < gates; ++g) {
      for (int j = 0; j < kHidden; ++j) {
        for (int k = 0; k < kIn; ++k) {
          ASSERT_EQ(fused(k, g * kHidden + j), Tag(from[g], j, k))
              << c.source << " gate " << c.internal[g];
        }
      }
    }
  }
}

TEST(WeightConverterTest, FuseGateColumnsAndBiasReorderKerasBlocks) {
  // Keras GRU z,r,h as column blocks of [in, 3H]; internal r,z,n.
  constexpr int kIn = 2;
  RowMatrix columns(kIn, 3 * kHidden);
  RowVector bias(3 * kHidden);
  for (int g = 0; g < 3; ++g) {
    for (int j = 0; j < kHidden; ++j) {
      bias(g * kHidden + j) = Tag(g, j, 0);
      for (int k = 0; k < kIn; ++k) columns(k, g * kHidden + j) = Tag(g, j, k);
    }
  }
  const RowMatrix fused = FuseGateColumns(columns, kGruFromZrh, kHidden);
  const RowVector fused_bias = FuseGateBias(bias, kGruFromZrh, kHidden);
  const std::vector<int> from = SourceBlocks("rzn", "zrn");
  for (int g = 0; g < 3; ++g) {
    for (int j = 0; j < kHidden; ++j) {
      EXPECT_EQ(fused_bias(g * kHidden + j), Tag(from[g], j, 0));
      for (int k = 0; k < kIn; ++k) EXPECT_EQ(fused(k, g * kHidden + j), Tag(from[g], j, k));
    }
  }
}

TEST(WeightConverterTest, SwappedGruUpdateNegatesOnlyTheUpdateGate) {
  // 1 - sigmoid(a) == sigmoid(-a): negating z's weights and biases turns
  // h = z * n + (1 - z) * h_prev into the kernel's (1 - z') * n + z' * h_prev.
  GateWeights w{.gates = 3,
                .hidden_size = kHidden,
                .input = RowMatrix::Constant(2, 3 * kHidden, 0.5f),
                .recurrent = RowMatrix::Constant(kHidden, 3 * kHidden, 0.25f),
                .input_bias = RowVector::Constant(3 * kHidden, 0.125f),
                .recurrent_bias = RowVector::Constant(3 * kHidden, 2.0f),
                .peephole = RowVector()};
  ConvertSwappedGruUpdate(w);
  for (int col = 0; col < 3 * kHidden; ++col) {
    const float sign = (col >= kHidden && col < 2 * kHidden) ? -1.0f : 1.0f;  // z is block 1
    EXPECT_EQ(w.input(1, col), sign * 0.5f) << col;
    EXPECT_EQ(w.recurrent(0, col), sign * 0.25f) << col;
    EXPECT_EQ(w.input_bias(col), sign * 0.125f) << col;
    EXPECT_EQ(w.recurrent_bias(col), sign * 2.0f) << col;
  }
}

// A safetensors file (F32) holding `tensors` in name order.
std::string Safetensors(
    const std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>& tensors) {
  std::string header = "{", data;
  for (const auto& [name, tensor] : tensors) {
    const auto& [shape, values] = tensor;
    std::string dims;
    for (int64_t d : shape) dims += (dims.empty() ? "" : ",") + std::to_string(d);
    const size_t begin = data.size();
    data.append(reinterpret_cast<const char*>(values.data()), values.size() * 4);
    header += (header.size() > 1 ? "," : "") + std::string("\"") + name +
              "\":{\"dtype\":\"F32\",\"shape\":[" + dims + "],\"data_offsets\":[" +
              std::to_string(begin) + "," + std::to_string(data.size()) + "]}";
  }
  header += "}";
  std::string bytes(8, '\0');
  const uint64_t length = header.size();
  for (int b = 0; b < 8; ++b) bytes[b] = static_cast<char>((length >> (8 * b)) & 0xff);
  return bytes + header + data;
}

constexpr char kRnnConfig[] = R"({"cell": "rnn", "input_size": 2, "hidden_size": 3,
  "num_layers": 1, "bias": true, "nonlinearity": "tanh", "naming": "pytorch"})";

std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>> RnnTensors() {
  return {{"rnn.weight_ih_l0", {{3, 2}, {0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f}}},
          {"rnn.weight_hh_l0", {{3, 3}, {0.7f, 0.0f, -0.1f, 0.2f, 0.3f, 0.0f, -0.4f, 0.1f, 0.5f}}},
          {"rnn.bias_ih_l0", {{3}, {0.05f, -0.05f, 0.1f}}},
          {"rnn.bias_hh_l0", {{3}, {0.2f, 0.0f, -0.3f}}}};
}

absl::StatusOr<ConvertedModel> Convert(
    const std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>& tensors) {
  const absl::StatusOr<ModelConfig> config = ParseModelConfig(kRnnConfig);
  EXPECT_TRUE(config.ok()) << config.status();
  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Parse(Safetensors(tensors), "test");
  EXPECT_TRUE(file.ok()) << file.status();
  return ConvertWeights(*config, *file);
}

TEST(WeightConverterTest, PyTorchMatricesAreTransposedAndBothBiasesKept) {
  const auto tensors = RnnTensors();
  const absl::StatusOr<ConvertedModel> converted = Convert(tensors);
  ASSERT_TRUE(converted.ok()) << converted.status();
  EXPECT_EQ(converted->parameter_count, 6 + 9 + 3 + 3);
  // Two steps from a zero state against h = tanh(W_ih x + b_ih + W_hh h + b_hh),
  // W as PyTorch stores it: [H, in], row j is hidden unit j.
  const std::vector<float> x = {0.9f, -1.1f, 0.4f, 0.8f};
  const absl::StatusOr<RowMatrix> out =
      converted->stack.RunSequence(StepInput::Floats(x.data(), 2));
  ASSERT_TRUE(out.ok()) << out.status();
  const std::vector<float>& w_ih = tensors.at("rnn.weight_ih_l0").second;
  const std::vector<float>& w_hh = tensors.at("rnn.weight_hh_l0").second;
  const std::vector<float>& b_ih = tensors.at("rnn.bias_ih_l0").second;
  const std::vector<float>& b_hh = tensors.at("rnn.bias_hh_l0").second;
  std::vector<double> h(3, 0.0);
  for (int t = 0; t < 2; ++t) {
    std::vector<double> next(3);
    for (int j = 0; j < 3; ++j) {
      double a = double{b_ih[j]} + b_hh[j];
      for (int k = 0; k < 2; ++k) a += double{w_ih[j * 2 + k]} * x[t * 2 + k];
      for (int k = 0; k < 3; ++k) a += double{w_hh[j * 3 + k]} * h[k];
      next[j] = std::tanh(a);
      EXPECT_NEAR((*out)(t, j), next[j], 1e-6) << "step " << t << ", unit " << j;
    }
    h = next;
  }
}

TEST(WeightConverterTest, MissingMisshapedAndLeftOverTensorsAreRefusedByName) {
  auto missing = RnnTensors();
  missing.erase("rnn.bias_hh_l0");
  EXPECT_THAT(Convert(missing).status().message(),
              HasSubstr("model.safetensors has no tensor rnn.bias_hh_l0, want one of shape [3]"));
  auto misshaped = RnnTensors();
  misshaped["rnn.weight_hh_l0"] = {{3, 2}, std::vector<float>(6, 0.0f)};
  EXPECT_THAT(Convert(misshaped).status().message(),
              HasSubstr("rnn.weight_hh_l0 is [3, 2], want [3, 3]"));
  auto extra = RnnTensors();
  extra["rnn.weight_ih_l1"] = {{3, 3}, std::vector<float>(9, 0.0f)};
  const absl::Status left_over = Convert(extra).status();
  EXPECT_EQ(left_over.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(left_over.message(), HasSubstr("tensors the config does not use: rnn.weight_ih_l1"));
}

}  // namespace
}  // namespace rnnserve::model
