// libFuzzer target: the ONNX importer again, fed ModelProto text format.
// Byte mutations of a binary ModelProto rarely keep it parseable, so most of
// onnx_fuzzer's inputs end in the protobuf parser; text mutations change op
// types, attributes, inputs and dims while staying a model, which is what
// reaches the graph walk (model/importers/onnx_graph.cc). The text is parsed,
// serialized and handed to model::LoadOnnxModel; each input ends in a model
// or INVALID_ARGUMENT, and an accepted model runs (CheckRuns).
#include <string>

#include "fuzz/fuzz_util.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "model/importers/model_loader.h"
#include "onnx/onnx_pb.h"

namespace rnnserve::fuzz {
namespace {

// Most mutants do not parse; protobuf would log each one.
class QuietErrors : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
};

void CheckText(absl::string_view text) {
  onnx::ModelProto proto;
  QuietErrors errors;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &proto)) return;
  std::string bytes;
  if (!proto.SerializeToString(&bytes)) return;
  absl::StatusOr<model::LoadedModel> model = model::LoadOnnxModel(bytes, "fuzz");
  if (!model.ok()) {
    CheckRefused(model.status());
    return;
  }
  CheckRuns(*model->stack);
}

}  // namespace
}  // namespace rnnserve::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rnnserve::fuzz::CheckText(rnnserve::fuzz::Bytes(data, size));
  return 0;
}
