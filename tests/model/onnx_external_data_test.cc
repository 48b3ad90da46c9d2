// ONNX external data (model/importers/onnx_external_data.h): weights saved
// beside model.onnx, as onnx.save_model(save_as_external_data=True) writes
// them, load from the model's folder (their parity with torch is in
// FixtureParityTest, rows onnx_export/*_external_data) and are part of the
// fingerprint; a location outside the folder, a range past the end of the
// file, a missing file or a size that does not fit the tensor is refused,
// naming the tensor or the file.
#include "model/importers/onnx_external_data.h"

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/importers/model_loader.h"
#include "tests/model/test_util.h"
#include "util/file.h"

namespace rnnserve::model {
namespace {

using ::rnnserve::model::testing::ScratchFolderTest;
using ::rnnserve::model::testing::TestdataPath;
using ::testing::HasSubstr;

constexpr char kFixture[] = "onnx_export/lstm_external_data";

class OnnxExternalDataTest : public ScratchFolderTest {
 protected:
  // The fixture copied to ROOT/lstm, its first external initializer changed
  // by `edit`; the folder.
  std::string CopyWith(const std::function<void(onnx::TensorProto&)>& edit) {
    const std::string dir = Add("lstm", kFixture);
    onnx::ModelProto model;
    const absl::StatusOr<std::string> bytes = util::ReadFileToString(dir + "/model.onnx");
    CHECK(bytes.ok() && model.ParseFromString(*bytes));
    for (onnx::TensorProto& tensor : *model.mutable_graph()->mutable_initializer()) {
      if (tensor.data_location() != onnx::TensorProto::EXTERNAL) continue;
      edit(tensor);
      break;
    }
    std::ofstream(dir + "/model.onnx", std::ios::binary | std::ios::trunc)
        << model.SerializeAsString();
    return dir;
  }

  static void Set(onnx::TensorProto& tensor, const std::string& key, const std::string& value) {
    for (onnx::StringStringEntryProto& entry : *tensor.mutable_external_data()) {
      if (entry.key() == key) {
        entry.set_value(value);
        return;
      }
    }
    onnx::StringStringEntryProto* entry = tensor.add_external_data();
    entry->set_key(key);
    entry->set_value(value);
  }
};

TEST_F(OnnxExternalDataTest, LoadsFromTheFolderAndTheDataFileIsInTheFingerprint) {
  const absl::StatusOr<LoadedModel> fixture = LoadModel(TestdataPath(kFixture));
  ASSERT_TRUE(fixture.ok()) << fixture.status();
  EXPECT_THAT(fixture->info.format, HasSubstr("onnx"));
  const std::string dir = Add("lstm", kFixture);
  {
    std::ofstream data(dir + "/model.onnx.data", std::ios::binary | std::ios::app);
    data << '\0';  // past every tensor's range: the weights are the same
  }
  const absl::StatusOr<LoadedModel> changed = LoadModel(dir);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_NE(changed->info.fingerprint, fixture->info.fingerprint);
}

TEST_F(OnnxExternalDataTest, ALocationOutsideTheModelFolderIsRefused) {
  for (const std::string location : {"../model.onnx.data", "/etc/passwd", "a/../../x", ""}) {
    const std::string dir =
        CopyWith([&](onnx::TensorProto& tensor) { Set(tensor, "location", location); });
    const absl::StatusOr<LoadedModel> model = LoadModel(dir);
    ASSERT_FALSE(model.ok()) << location;
    EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument) << location;
    EXPECT_THAT(model.status().message(), HasSubstr("is not a relative path inside")) << location;
    std::filesystem::remove_all(dir);
  }
}

TEST_F(OnnxExternalDataTest, ARangePastTheEndOrABadNumberIsRefusedNamingTheTensor) {
  struct Case {
    std::string key, value, message;
  };
  for (const Case& c : {Case{"offset", "100000", "lie past the end of model.onnx.data"},
                        Case{"length", "100000", "lie past the end of model.onnx.data"},
                        Case{"offset", "-1", "offset \"-1\" is not a byte count"},
                        Case{"length", "12x", "length \"12x\" is not a byte count"},
                        Case{"length", "4", "raw data has 4 bytes, want 192"}}) {
    const std::string dir =
        CopyWith([&](onnx::TensorProto& tensor) { Set(tensor, c.key, c.value); });
    const absl::StatusOr<LoadedModel> model = LoadModel(dir);
    ASSERT_FALSE(model.ok()) << c.key << "=" << c.value;
    EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument) << model.status();
    EXPECT_THAT(model.status().message(), HasSubstr(c.message));
    EXPECT_THAT(model.status().message(), HasSubstr("onnx::LSTM_"));  // the tensor
    std::filesystem::remove_all(dir);
  }
}

TEST_F(OnnxExternalDataTest, AMissingDataFileIsNotFoundNamingIt) {
  const absl::StatusOr<LoadedModel> model = LoadModel(TestdataPath("onnx_bad/external_data"));
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kNotFound) << model.status();
  EXPECT_THAT(model.status().message(), HasSubstr("external data file W.bin"));
  EXPECT_THAT(model.status().message(), HasSubstr("model.onnx: "));
}

TEST_F(OnnxExternalDataTest, BytesAloneCannotReadExternalData) {
  const absl::StatusOr<std::string> bytes =
      util::ReadFileToString(TestdataPath(kFixture) + "/model.onnx");
  ASSERT_TRUE(bytes.ok());
  const absl::StatusOr<LoadedModel> model = LoadOnnxModel(*bytes, "from_bytes");
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(model.status().message(), HasSubstr("external data"));
}

}  // namespace
}  // namespace rnnserve::model
