#include "server/v2/http_routes.h"

#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "server/session_position.h"
#include "server/v2/json_infer_request.h"
#include "server/v2/json_responses.h"
#include "server/v2/metadata.h"

namespace rnnserve::server::v2 {

// A routed request: which protocol method, on which model.
struct HttpRoutes::Endpoint {
  const char* method = nullptr;  // the gRPC method's name, for metrics
  const char* http_method = "GET";
  std::string model;
  std::string version;
  bool open = false;  // a health probe: no token needed
};

namespace {

using Endpoint = HttpRoutes::Endpoint;

// The endpoint `path` names; nullopt for none.
std::optional<Endpoint> EndpointOf(const std::string& path) {
  std::vector<std::string> parts = absl::StrSplit(path, '/');
  // "/v2/models/m" splits as "", "v2", "models", "m"; a trailing slash adds "".
  if (parts.size() < 2 || !parts[0].empty() || parts[1] != "v2") return std::nullopt;
  if (parts.back().empty() && parts.size() > 2) parts.pop_back();
  const size_t n = parts.size();
  if (n == 2) return Endpoint{.method = "ServerMetadata"};
  if (n == 4 && parts[2] == "health" && parts[3] == "live") {
    return Endpoint{.method = "ServerLive", .open = true};
  }
  if (n == 4 && parts[2] == "health" && parts[3] == "ready") {
    return Endpoint{.method = "ServerReady", .open = true};
  }
  if (n < 4 || parts[2] != "models" || parts[3].empty()) return std::nullopt;
  Endpoint endpoint{.model = parts[3]};
  size_t next = 4;
  if (n >= 6 && parts[4] == "versions") {
    endpoint.version = parts[5];
    next = 6;
  }
  if (next == n) {
    endpoint.method = "ModelMetadata";
  } else if (next + 1 == n && parts[next] == "ready") {
    endpoint.method = "ModelReady";
  } else if (next + 1 == n && parts[next] == "infer") {
    endpoint.method = "ModelInfer";
    endpoint.http_method = "POST";
  } else {
    return std::nullopt;
  }
  return endpoint;
}

HttpReply ErrorReply(int status, absl::string_view message) {
  return HttpReply{.status = status, .body = ErrorJson(message, std::nullopt)};
}

}  // namespace

int HttpStatusOf(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kAlreadyExists:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

HttpReply HttpRoutes::Handle(const HttpRequest& request) const {
  const std::optional<Endpoint> endpoint = EndpointOf(request.path);
  if (!endpoint.has_value()) {
    return ErrorReply(404, absl::StrCat("no endpoint ", request.path,
                                        "; the Open Inference Protocol's are /v2, /v2/health/live, "
                                        "/v2/health/ready and /v2/models/{name}[/versions/{v}]"
                                        "[/ready|/infer]"));
  }
  if (request.method != endpoint->http_method) {
    return ErrorReply(405, absl::StrCat(request.path, " takes ", endpoint->http_method, ", not ",
                                        request.method));
  }
  HttpReply reply;
  absl::Status status;
  if (token_ != nullptr && !endpoint->open &&
      !(request.authorization.has_value() && token_->Accepts(*request.authorization))) {
    status = absl::UnauthenticatedError(
        request.authorization.has_value()
            ? "the Authorization header is not \"Bearer \" followed by this server's token"
            : "this server wants a bearer token: send the header \"Authorization: Bearer "
              "<token>\"");
  } else if (request.body_too_large) {
    status = absl::ResourceExhaustedError(
        "the request body is larger than --max_message_bytes; send fewer steps a request");
  } else {
    status = Serve(*endpoint, request, reply);
  }
  metrics_->CountRequest(RequestProtocol::kOpenInferenceHttp, endpoint->method, status.code());
  if (!status.ok()) {
    reply.status = request.body_too_large && status.code() == absl::StatusCode::kResourceExhausted
                       ? 413
                       : HttpStatusOf(status.code());
    reply.body = ErrorJson(status.message(), SessionStepsOf(status));
  }
  return reply;
}

absl::Status HttpRoutes::Serve(const Endpoint& endpoint, const HttpRequest& request,
                               HttpReply& reply) const {
  const std::string method = endpoint.method;
  if (method == "ServerLive") return absl::OkStatus();
  if (method == "ServerReady") {
    return serving_.load() ? absl::OkStatus()
                           : absl::UnavailableError("the server is shutting down");
  }
  if (method == "ServerMetadata") {
    reply.body = ServerMetadataJson(ServerMetadata());
    return absl::OkStatus();
  }
  if (method == "ModelMetadata") {
    absl::StatusOr<inference::ModelMetadataResponse> metadata =
        ModelMetadata(*models_, endpoint.model, endpoint.version);
    if (!metadata.ok()) return metadata.status();
    reply.body = ModelMetadataJson(*metadata);
    return absl::OkStatus();
  }
  if (method == "ModelReady") {
    absl::StatusOr<bool> ready = ModelReady(*models_, endpoint.model, endpoint.version);
    if (!ready.ok()) return ready.status();
    if (!*ready) {
      return absl::NotFoundError(absl::StrCat("model ", endpoint.model,
                                              endpoint.version.empty() ? "" : " version ",
                                              endpoint.version, " is not served"));
    }
    return serving_.load() ? absl::OkStatus()
                           : absl::UnavailableError("the server is shutting down");
  }
  return Infer(endpoint, request, reply);
}

absl::Status HttpRoutes::Infer(const Endpoint& endpoint, const HttpRequest& request,
                               HttpReply& reply) const {
  if (!serving_.load()) return absl::UnavailableError("the server is shutting down");
  absl::StatusOr<inference::ModelInferRequest> parsed =
      ParseJsonInferRequest(request.body, endpoint.model, endpoint.version);
  if (!parsed.ok()) return parsed.status();
  // The answer lands here, shared with the runner's reply: after a timeout
  // the reply still runs (later), and this call's frame is gone by then.
  struct Answer {
    absl::Status status;
    std::string body;
    absl::Notification done;
  };
  auto answer = std::make_shared<Answer>();
  // HTTP carries no deadline: the server gives each call infer_timeout_,
  // the deadline the native path honours (a step still queued then is
  // dropped) and the bound of this thread's wait (a step that stalls past
  // it no longer holds an HTTP thread).
  const absl::Time deadline = absl::Now() + infer_timeout_;
  runner_->Run(*parsed, deadline, [answer](absl::StatusOr<inference::ModelInferResponse> result) {
    // Written here, before the runner releases the bytes it reserved for
    // the answer.
    if (result.ok()) {
      answer->body = InferResponseJson(*result);
    } else {
      answer->status = result.status();
    }
    answer->done.Notify();
  });
  if (!answer->done.WaitForNotificationWithDeadline(deadline)) {
    return absl::DeadlineExceededError(absl::StrCat(
        "no answer before the deadline (--http_infer_timeout=",
        absl::FormatDuration(infer_timeout_),
        "); a step may still have been applied: the session's steps (expected_session_steps) "
        "say whether it was"));
  }
  reply.body = std::move(answer->body);
  return answer->status;
}

}  // namespace rnnserve::server::v2
