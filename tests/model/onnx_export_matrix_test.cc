// The refused half of the ONNX export matrix (make_onnx_export_matrix.py):
// every case in tests/testdata/onnx_export_refused is refused with the
// message its README.txt line gives. (The imported half runs in
// fixture_parity_test, suite OnnxExport, against torch.)
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/importers/model_loader.h"
#include "tests/model/test_util.h"

namespace rnnserve::model {
namespace {

using ::rnnserve::model::testing::TestdataPath;
using ::testing::HasSubstr;

struct RefusedExport {
  std::string folder;
  std::string message_part;
};

// README.txt: a header line, then "<case>: <part of the message>" per case.
std::vector<RefusedExport> RefusedExports() {
  std::ifstream readme(TestdataPath("onnx_export_refused/README.txt"));
  std::vector<RefusedExport> cases;
  std::string line;
  std::getline(readme, line);
  while (std::getline(readme, line)) {
    const size_t colon = line.find(": ");
    if (colon == std::string::npos) continue;
    RefusedExport refused;
    refused.folder.assign(line, 0, colon);
    refused.message_part.assign(line, colon + 2);
    cases.push_back(std::move(refused));
  }
  return cases;
}

class RefusedExportTest : public ::testing::TestWithParam<RefusedExport> {};

TEST_P(RefusedExportTest, IsRefusedSayingWhy) {
  const absl::StatusOr<LoadedModel> model =
      LoadModel(TestdataPath("onnx_export_refused/" + GetParam().folder));
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument) << model.status();
  EXPECT_THAT(model.status().message(), HasSubstr(GetParam().message_part));
}

TEST(RefusedExportTest, EveryCellHasItsRefusedCases) {
  EXPECT_EQ(RefusedExports().size(), 3u);  // a batch of two, for each of the 3 cells
}

INSTANTIATE_TEST_SUITE_P(OnnxExport, RefusedExportTest, ::testing::ValuesIn(RefusedExports()),
                         [](const auto& info) { return info.param.folder; });

}  // namespace
}  // namespace rnnserve::model
