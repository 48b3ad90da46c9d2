// ResolveModelPath and ClassifyModelPath against folders built in TempDir()
// from the checked-in fixtures: every spelling of a model the tools accept,
// and the messages for the rest.
#include "model/importers/model_path.h"

#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/model/test_util.h"
#include "util/file.h"

namespace rnnserve::model {
namespace {

namespace fs = std::filesystem;
using ::rnnserve::model::testing::ScratchFolderTest;
using ::rnnserve::model::testing::TestdataPath;
using ::testing::HasSubstr;

constexpr char kAccepted[] =
    "want a model.onnx, config.json, model.safetensors, model.keras, model.h5 or model.json "
    "file, a version folder holding one, a Keras file of any name (*.keras, *.h5), or a model "
    "folder of versions 1/, 2/, ...";

class ModelPathTest : public ScratchFolderTest {
 protected:
  std::string MakeDir(const std::string& relative) {
    fs::create_directories(root_path() / relative);
    return (root_path() / relative).string();
  }
  std::string WriteFile(const std::string& relative) {
    const std::string path = (root_path() / relative).string();
    EXPECT_TRUE(util::WriteStringToFile(path, "").ok()) << path;
    return path;
  }
};

TEST_F(ModelPathTest, ClassifiesFolders) {
  Add("lstm/1", "model/lstm_1layer");
  Add("lstm/2", "model/lstm_1layer");
  WriteFile("lstm/README");
  MakeDir("empty");
  Add("mixed/1", "model/lstm_1layer");
  Add("mixed/old", "model/lstm_1layer");  // a bad version name: still a model folder
  MakeDir("unloaded/1");
  MakeDir("unloaded/notes");
  EXPECT_EQ(ClassifyModelPath(root() + "/lstm/1"), ModelPathKind::kVersion);
  EXPECT_EQ(ClassifyModelPath(TestdataPath("onnx/torch_lstm_1layer")), ModelPathKind::kVersion);
  EXPECT_EQ(ClassifyModelPath(root() + "/nope"), ModelPathKind::kVersion);  // LoadModel says why
  EXPECT_EQ(ClassifyModelPath(root() + "/lstm"), ModelPathKind::kModel);
  EXPECT_EQ(ClassifyModelPath(root() + "/mixed"), ModelPathKind::kModel);
  EXPECT_EQ(ClassifyModelPath(root() + "/unloaded"), ModelPathKind::kRepository);
  EXPECT_EQ(ClassifyModelPath(root()), ModelPathKind::kRepository);
  EXPECT_EQ(ClassifyModelPath(root() + "/empty"), ModelPathKind::kRepository);
}

// Each known file alone marks its folder as a model version: a new format is
// one more ModelFiles() entry and needs nothing else here.
TEST_F(ModelPathTest, EachModelFileMarksAVersionFolder) {
  for (const absl::string_view file : ModelFiles()) {
    SCOPED_TRACE(file);
    const std::string only = std::string(file) + "_only";
    const std::string dir = MakeDir(only);
    EXPECT_FALSE(HoldsModelFiles(dir));
    WriteFile(only + "/" + std::string(file));
    EXPECT_TRUE(HoldsModelFiles(dir));
    EXPECT_EQ(ClassifyModelPath(dir), ModelPathKind::kVersion);
  }
}

TEST_F(ModelPathTest, AModelFileStandsForItsVersionFolder) {
  const std::string onnx = TestdataPath("onnx/torch_lstm_1layer");
  const std::string native = TestdataPath("model/lstm_1layer");
  for (const auto& [path, folder] :
       {std::pair{onnx + "/model.onnx", onnx}, std::pair{native + "/config.json", native},
        std::pair{native + "/model.safetensors", native}}) {
    SCOPED_TRACE(path);
    const absl::StatusOr<ModelPath> resolved = ResolveModelPath(path);
    ASSERT_TRUE(resolved.ok()) << resolved.status();
    EXPECT_EQ(resolved->kind, ModelPathKind::kVersion);
    EXPECT_EQ(fs::path(resolved->folder), fs::path(folder));
  }
}

// Keras users name their files (lstm_model.keras, bilstm.h5): the file is
// the model, whatever its name.
TEST_F(ModelPathTest, AKerasFileOfAnyNameIsTheModel) {
  for (const char* name : {"lstm_model.keras", "bilstm.h5", "weights.hdf5"}) {
    const std::string path = WriteFile(name);
    const absl::StatusOr<ModelPath> resolved = ResolveModelPath(path);
    ASSERT_TRUE(resolved.ok()) << resolved.status();
    EXPECT_EQ(resolved->kind, ModelPathKind::kVersion);
    EXPECT_EQ(resolved->folder, path);
  }
}

TEST_F(ModelPathTest, FoldersResolveToThemselves) {
  const std::string version = Add("lstm/1", "model/lstm_1layer");
  for (const auto& [path, kind] : {std::pair{version, ModelPathKind::kVersion},
                                   std::pair{root() + "/lstm", ModelPathKind::kModel},
                                   std::pair{root(), ModelPathKind::kRepository}}) {
    SCOPED_TRACE(path);
    const absl::StatusOr<ModelPath> resolved = ResolveModelPath(path);
    ASSERT_TRUE(resolved.ok()) << resolved.status();
    EXPECT_EQ(resolved->kind, kind);
    EXPECT_EQ(resolved->folder, path);
  }
}

TEST_F(ModelPathTest, AMissingPathSaysWhatIsAccepted) {
  // Not ".../model.onnx/config.json: no such file", which points the wrong way.
  for (const std::string& path : {root() + "/nope", root() + "/nope/model.onnx"}) {
    const absl::StatusOr<ModelPath> resolved = ResolveModelPath(path);
    EXPECT_EQ(resolved.status().code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(resolved.status().message(), HasSubstr(path + " does not exist; " + kAccepted));
  }
}

TEST_F(ModelPathTest, AnyOtherFileIsRefusedSayingWhatIsAccepted) {
  for (const char* name : {"input_1.npy", "gru.onnx", "weights.safetensors"}) {
    const std::string path = WriteFile(name);
    const absl::StatusOr<ModelPath> resolved = ResolveModelPath(path);
    EXPECT_EQ(resolved.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(resolved.status().message(),
                HasSubstr(path + " is not a model file; " + kAccepted));
  }
}

}  // namespace
}  // namespace rnnserve::model
