// libFuzzer target: the Open Inference Protocol's JSON inference request
// (server/v2/json_infer_request.h), the body of a REST POST .../infer. Any
// bytes: a refusal must be INVALID_ARGUMENT with a message; what parses is a
// ModelInferRequest naming the URL's model whose serialized form parses back
// equal (what v2_infer_request_fuzzer then takes through the mapping).
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "glog/logging.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/util/message_differencer.h"
#include "inference/grpc_service.pb.h"
#include "server/v2/json_infer_request.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);  // strings that are not UTF-8 are common
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view body(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<inference::ModelInferRequest> request =
      rnnserve::server::v2::ParseJsonInferRequest(body, "model", "1");
  if (!request.ok()) {
    CHECK(absl::IsInvalidArgument(request.status())) << request.status();
    CHECK(!request.status().message().empty());
    return 0;
  }
  CHECK_EQ(request->model_name(), "model");
  CHECK_EQ(request->model_version(), "1");
  std::string bytes;
  CHECK(request->SerializeToString(&bytes));
  inference::ModelInferRequest again;
  CHECK(again.ParseFromString(bytes));
  CHECK(google::protobuf::util::MessageDifferencer::Equals(*request, again));
  return 0;
}
