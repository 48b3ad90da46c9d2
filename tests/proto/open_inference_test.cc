// proto/inference/grpc_service.proto is wire-compatible with the published
// Open Inference Protocol (KServe grpc_predict_v2.proto, Triton's
// grpc_service.proto): the package, service, method names and streaming, and
// every message's field names, numbers and types as published, checked
// against a table written from the specification, so a stock client's bytes
// mean the same here.
#include <string>
#include <tuple>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "inference/grpc_service.pb.h"

namespace inference {
namespace {

using google::protobuf::FieldDescriptor;

const google::protobuf::FileDescriptor* File() { return ModelInferRequest::descriptor()->file(); }

TEST(OpenInferenceProtocolTest, ServiceAndMethodsAreThePublishedOnes) {
  EXPECT_EQ(File()->package(), "inference");
  const auto* service = File()->FindServiceByName("GRPCInferenceService");
  ASSERT_NE(service, nullptr);
  // method, input, output, streaming
  const std::vector<std::tuple<std::string, std::string, std::string, bool>> methods = {
      {"ServerLive", "ServerLiveRequest", "ServerLiveResponse", false},
      {"ServerReady", "ServerReadyRequest", "ServerReadyResponse", false},
      {"ModelReady", "ModelReadyRequest", "ModelReadyResponse", false},
      {"ServerMetadata", "ServerMetadataRequest", "ServerMetadataResponse", false},
      {"ModelMetadata", "ModelMetadataRequest", "ModelMetadataResponse", false},
      {"ModelInfer", "ModelInferRequest", "ModelInferResponse", false},
      {"ModelStreamInfer", "ModelInferRequest", "ModelStreamInferResponse", true},
  };
  EXPECT_EQ(service->method_count(), static_cast<int>(methods.size()));
  for (const auto& [name, input, output, streaming] : methods) {
    const auto* method = service->FindMethodByName(name);
    ASSERT_NE(method, nullptr) << name;
    EXPECT_EQ(method->input_type()->name(), input) << name;
    EXPECT_EQ(method->output_type()->name(), output) << name;
    EXPECT_EQ(method->client_streaming(), streaming) << name;
    EXPECT_EQ(method->server_streaming(), streaming) << name;
  }
}

TEST(OpenInferenceProtocolTest, FieldsHaveThePublishedNamesNumbersAndTypes) {
  struct Field {
    std::string message;  // full name within the package
    std::string name;
    int number;
    FieldDescriptor::Type type;
    bool repeated;
  };
  using T = FieldDescriptor;
  const std::vector<Field> fields = {
      {"ServerLiveResponse", "live", 1, T::TYPE_BOOL, false},
      {"ServerReadyResponse", "ready", 1, T::TYPE_BOOL, false},
      {"ModelReadyRequest", "name", 1, T::TYPE_STRING, false},
      {"ModelReadyRequest", "version", 2, T::TYPE_STRING, false},
      {"ModelReadyResponse", "ready", 1, T::TYPE_BOOL, false},
      {"ServerMetadataResponse", "name", 1, T::TYPE_STRING, false},
      {"ServerMetadataResponse", "version", 2, T::TYPE_STRING, false},
      {"ServerMetadataResponse", "extensions", 3, T::TYPE_STRING, true},
      {"ModelMetadataRequest", "name", 1, T::TYPE_STRING, false},
      {"ModelMetadataRequest", "version", 2, T::TYPE_STRING, false},
      {"ModelMetadataResponse", "name", 1, T::TYPE_STRING, false},
      {"ModelMetadataResponse", "versions", 2, T::TYPE_STRING, true},
      {"ModelMetadataResponse", "platform", 3, T::TYPE_STRING, false},
      {"ModelMetadataResponse", "inputs", 4, T::TYPE_MESSAGE, true},
      {"ModelMetadataResponse", "outputs", 5, T::TYPE_MESSAGE, true},
      {"ModelMetadataResponse", "parameters", 6, T::TYPE_MESSAGE, true},
      {"ModelMetadataResponse.TensorMetadata", "name", 1, T::TYPE_STRING, false},
      {"ModelMetadataResponse.TensorMetadata", "datatype", 2, T::TYPE_STRING, false},
      {"ModelMetadataResponse.TensorMetadata", "shape", 3, T::TYPE_INT64, true},
      {"ModelInferRequest", "model_name", 1, T::TYPE_STRING, false},
      {"ModelInferRequest", "model_version", 2, T::TYPE_STRING, false},
      {"ModelInferRequest", "id", 3, T::TYPE_STRING, false},
      {"ModelInferRequest", "parameters", 4, T::TYPE_MESSAGE, true},
      {"ModelInferRequest", "inputs", 5, T::TYPE_MESSAGE, true},
      {"ModelInferRequest", "outputs", 6, T::TYPE_MESSAGE, true},
      {"ModelInferRequest", "raw_input_contents", 7, T::TYPE_BYTES, true},
      {"ModelInferRequest.InferInputTensor", "name", 1, T::TYPE_STRING, false},
      {"ModelInferRequest.InferInputTensor", "datatype", 2, T::TYPE_STRING, false},
      {"ModelInferRequest.InferInputTensor", "shape", 3, T::TYPE_INT64, true},
      {"ModelInferRequest.InferInputTensor", "parameters", 4, T::TYPE_MESSAGE, true},
      {"ModelInferRequest.InferInputTensor", "contents", 5, T::TYPE_MESSAGE, false},
      {"ModelInferRequest.InferRequestedOutputTensor", "name", 1, T::TYPE_STRING, false},
      {"ModelInferRequest.InferRequestedOutputTensor", "parameters", 2, T::TYPE_MESSAGE, true},
      {"ModelInferResponse", "model_name", 1, T::TYPE_STRING, false},
      {"ModelInferResponse", "model_version", 2, T::TYPE_STRING, false},
      {"ModelInferResponse", "id", 3, T::TYPE_STRING, false},
      {"ModelInferResponse", "parameters", 4, T::TYPE_MESSAGE, true},
      {"ModelInferResponse", "outputs", 5, T::TYPE_MESSAGE, true},
      {"ModelInferResponse", "raw_output_contents", 6, T::TYPE_BYTES, true},
      {"ModelInferResponse.InferOutputTensor", "name", 1, T::TYPE_STRING, false},
      {"ModelInferResponse.InferOutputTensor", "datatype", 2, T::TYPE_STRING, false},
      {"ModelInferResponse.InferOutputTensor", "shape", 3, T::TYPE_INT64, true},
      {"ModelInferResponse.InferOutputTensor", "parameters", 4, T::TYPE_MESSAGE, true},
      {"ModelInferResponse.InferOutputTensor", "contents", 5, T::TYPE_MESSAGE, false},
      {"ModelStreamInferResponse", "error_message", 1, T::TYPE_STRING, false},
      {"ModelStreamInferResponse", "infer_response", 2, T::TYPE_MESSAGE, false},
      {"InferParameter", "bool_param", 1, T::TYPE_BOOL, false},
      {"InferParameter", "int64_param", 2, T::TYPE_INT64, false},
      {"InferParameter", "string_param", 3, T::TYPE_STRING, false},
      {"InferParameter", "double_param", 4, T::TYPE_DOUBLE, false},
      {"InferParameter", "uint64_param", 5, T::TYPE_UINT64, false},
      {"InferTensorContents", "bool_contents", 1, T::TYPE_BOOL, true},
      {"InferTensorContents", "int_contents", 2, T::TYPE_INT32, true},
      {"InferTensorContents", "int64_contents", 3, T::TYPE_INT64, true},
      {"InferTensorContents", "uint_contents", 4, T::TYPE_UINT32, true},
      {"InferTensorContents", "uint64_contents", 5, T::TYPE_UINT64, true},
      {"InferTensorContents", "fp32_contents", 6, T::TYPE_FLOAT, true},
      {"InferTensorContents", "fp64_contents", 7, T::TYPE_DOUBLE, true},
      {"InferTensorContents", "bytes_contents", 8, T::TYPE_BYTES, true},
  };
  for (const Field& f : fields) {
    const auto* message = File()->pool()->FindMessageTypeByName("inference." + f.message);
    ASSERT_NE(message, nullptr) << f.message;
    const FieldDescriptor* field = message->FindFieldByName(f.name);
    ASSERT_NE(field, nullptr) << f.message << "." << f.name;
    EXPECT_EQ(field->number(), f.number) << f.message << "." << f.name;
    EXPECT_EQ(field->type(), f.type) << f.message << "." << f.name;
    EXPECT_EQ(field->is_repeated(), f.repeated) << f.message << "." << f.name;
  }
  // The parameter maps are map<string, InferParameter>; the parameter choices
  // one oneof, as published.
  const auto* parameters = ModelInferRequest::descriptor()->FindFieldByName("parameters");
  ASSERT_TRUE(parameters->is_map());
  EXPECT_EQ(parameters->message_type()->map_value()->message_type()->name(), "InferParameter");
  EXPECT_EQ(InferParameter::descriptor()->oneof_decl_count(), 1);
  EXPECT_EQ(InferParameter::descriptor()->oneof_decl(0)->name(), "parameter_choice");
}

}  // namespace
}  // namespace inference
