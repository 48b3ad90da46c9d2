// Which API a request came through, for the metrics' `protocol` label.
#ifndef RNNSERVE_SERVER_REQUEST_PROTOCOL_H_
#define RNNSERVE_SERVER_REQUEST_PROTOCOL_H_

namespace rnnserve::server {

// The API a request came through: the `protocol` label of
// rnnserve_requests_total.
enum class RequestProtocol {
  kNative,         // rnnserve.v1 (and the cluster's own RPCs)
  kOpenInference,  // inference.GRPCInferenceService (KServe v2 / Triton)
  // The same protocol over HTTP/REST (server/v2/http_routes.h); its code
  // label is the gRPC code the HTTP status was mapped from.
  kOpenInferenceHttp,
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_REQUEST_PROTOCOL_H_
