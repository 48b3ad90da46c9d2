// The Open Inference Protocol's HTTP/REST endpoints (KServe v2, with
// Triton's sequence extension), independent of the HTTP library: a request
// (method, path, authorization header, body) in, a status and a JSON body
// out. Inference goes through the same InferRunner as the gRPC front end
// (JSON -> ModelInferRequest -> native request), so it shares its sessions,
// batcher, limits and drain gate: a session started over gRPC continues
// over REST and back. Thread-safe; Handle() blocks until the answer is in.
//
//   GET  /v2                                   server metadata
//   GET  /v2/health/live, /v2/health/ready     200, or 503 once shutting down
//   GET  /v2/models/{m}[/versions/{v}]         model metadata
//   GET  /v2/models/{m}[/versions/{v}]/ready   200, 404 not served, 503
//   POST /v2/models/{m}[/versions/{v}]/infer   inference
//
// Errors are {"error": "..."} with HttpStatusOf(code); an inference request
// not answered within the infer timeout is 504 (a step may still apply). With a token
// configured every endpoint but the two health probes wants
// "Authorization: Bearer <token>" (401 without). Each routed request counts
// in rnnserve_requests_total{protocol="inference-http"} under the gRPC
// method's name.
#ifndef RNNSERVE_SERVER_V2_HTTP_ROUTES_H_
#define RNNSERVE_SERVER_V2_HTTP_ROUTES_H_

#include <atomic>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/metrics.h"
#include "server/served_models.h"
#include "server/token_check.h"
#include "server/v2/infer_runner.h"

namespace rnnserve::server::v2 {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // URL-decoded, without the query
  std::optional<std::string> authorization;
  std::string body;
  // The body was longer than the limit and was not read: the reply is 413.
  bool body_too_large = false;
};

struct HttpReply {
  int status = 200;
  std::string body;  // JSON, or empty for the health and readiness answers
};

// The HTTP status for a gRPC/absl code: INVALID_ARGUMENT, FAILED_PRECONDITION
// and OUT_OF_RANGE 400, UNAUTHENTICATED 401, PERMISSION_DENIED 403,
// NOT_FOUND 404, ABORTED and ALREADY_EXISTS 409, RESOURCE_EXHAUSTED 429,
// UNIMPLEMENTED 501, UNAVAILABLE 503, DEADLINE_EXCEEDED 504, others 500.
int HttpStatusOf(absl::StatusCode code);

class HttpRoutes {
 public:
  // None owned; all outlive the routes. `token` null: no token needed.
  // `infer_timeout`: each inference request's deadline (HTTP has none of
  // its own), past which it is answered 504 (ServerOptions::http_infer_timeout).
  HttpRoutes(const InferRunner* runner, const ServedModels* models, ServerMetrics* metrics,
             const TokenCheck* token, absl::Duration infer_timeout)
      : runner_(runner),
        models_(models),
        metrics_(metrics),
        token_(token),
        infer_timeout_(infer_timeout) {}

  // From now on readiness answers 503 and new inference requests are
  // refused with 503; requests already running finish.
  void StopServing() { serving_.store(false); }

  HttpReply Handle(const HttpRequest& request) const;

  struct Endpoint;  // a routed request (http_routes.cc)

 private:
  // The answer of an endpoint the request was allowed to call.
  absl::Status Serve(const Endpoint& endpoint, const HttpRequest& request, HttpReply& reply) const;
  absl::Status Infer(const Endpoint& endpoint, const HttpRequest& request, HttpReply& reply) const;

  const InferRunner* const runner_;
  const ServedModels* const models_;
  ServerMetrics* const metrics_;
  const TokenCheck* const token_;
  const absl::Duration infer_timeout_;
  std::atomic<bool> serving_{true};
};

}  // namespace rnnserve::server::v2

#endif  // RNNSERVE_SERVER_V2_HTTP_ROUTES_H_
