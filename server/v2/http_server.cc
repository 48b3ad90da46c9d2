#include "server/v2/http_server.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "civetweb.h"
#include "glog/logging.h"
#include "util/status_macros.h"

namespace rnnserve::server::v2 {
namespace {

// Reads the body into request.body, unless its length (declared, or read so
// far when chunked) passes `limit`: then sets body_too_large and stops.
void ReadBody(mg_connection* connection, long long declared, int64_t limit, HttpRequest& request) {
  if (declared > limit) {
    request.body_too_large = true;
    return;
  }
  // Read into the string itself: civetweb's worker threads have small
  // stacks, no place for a big buffer.
  constexpr size_t kChunk = 64 << 10;
  std::string& body = request.body;
  if (declared >= 0) body.reserve(static_cast<size_t>(declared));
  while (true) {
    const size_t have = body.size();
    body.resize(have + kChunk);
    const int got = mg_read(connection, body.data() + have, kChunk);
    body.resize(have + static_cast<size_t>(std::max(got, 0)));
    if (got <= 0) return;  // the end, or the client went away
    if (static_cast<int64_t>(body.size()) > limit) {
      request.body_too_large = true;
      body.clear();
      return;
    }
  }
}

// The status line, the headers and the body in one write: split, the body
// waits behind Nagle for the client's delayed ACK of the headers, 40 ms a
// request on a keep-alive connection (measured; civetweb's tcp_nodelay did
// not prevent it).
void SendReply(mg_connection* connection, const HttpReply& reply, bool close) {
  const std::string response = absl::StrCat(
      "HTTP/1.1 ", reply.status, " ", mg_get_response_code_text(connection, reply.status),
      "\r\nContent-Type: application/json\r\nContent-Length: ", reply.body.size(),
      reply.status == 401 ? "\r\nWWW-Authenticate: Bearer" : "",
      close ? "\r\nConnection: close" : "", "\r\n\r\n", reply.body);
  mg_write(connection, response.data(), response.size());
}

int LogMessage(const mg_connection* /*connection*/, const char* message) {
  VLOG(1) << "http: " << message;
  return 1;  // logged here, not on stderr
}

}  // namespace

int HttpServer::HandleRequest(mg_connection* connection, void* data) {
  const auto* server = static_cast<const HttpServer*>(data);
  const mg_request_info* info = mg_get_request_info(connection);
  HttpRequest request;
  request.method = info->request_method != nullptr ? info->request_method : "";
  request.path = info->local_uri != nullptr ? info->local_uri : "";
  if (const char* authorization = mg_get_header(connection, "Authorization")) {
    request.authorization = authorization;
  }
  ReadBody(connection, info->content_length, server->options_.max_body_bytes, request);
  const HttpReply reply = server->routes_->Handle(request);
  // An unread body would be taken for the next request on the connection.
  if (request.body_too_large) mg_disable_keep_alive(connection);
  SendReply(connection, reply, /*close=*/request.body_too_large);
  return reply.status;
}

int HttpServer::InitTls(void* ssl_ctx, void* data) {
  auto* server = static_cast<HttpServer*>(data);
  server->tls_error_ = ConfigureTlsContext(ssl_ctx, server->options_.tls);
  return server->tls_error_.ok() ? 1 : -1;
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                              const HttpRoutes* routes) {
  std::unique_ptr<HttpServer> server(new HttpServer(options, routes));
  const bool tls = !options.tls.cert.empty();
  if (tls) RNN_RETURN_IF_ERROR(LoadOpenSslForCivetweb());
  // No mg_init_library/mg_exit_library: mg_start initializes what it needs,
  // and an mg_exit_library of ours would tear down the library under
  // prometheus-cpp's exposer, whose mg_stop then hangs at exit.
  // civetweb's mark of an HTTPS port: a trailing "s".
  const std::string ports = tls ? absl::StrCat(options.listen, "s") : options.listen;
  const std::string threads = absl::StrCat(options.threads);
  const std::string keep_alive = absl::StrCat(options.keep_alive_ms);
  // No document_root: civetweb serves no files, only the handler below.
  const char* configuration[] = {"listening_ports",
                                 ports.c_str(),
                                 "num_threads",
                                 threads.c_str(),
                                 "enable_keep_alive",
                                 "yes",
                                 "keep_alive_timeout_ms",
                                 keep_alive.c_str(),
                                 "request_timeout_ms",
                                 "30000",
                                 nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = &LogMessage;
  if (tls) callbacks.init_ssl = &HttpServer::InitTls;
  mg_init_data init{
      .callbacks = &callbacks, .user_data = server.get(), .configuration_options = configuration};
  char error_text[256] = "";
  unsigned error_code = 0;
  mg_error_data error{
      .code = &error_code, .text = error_text, .text_buffer_size = sizeof(error_text)};
  server->context_ = mg_start2(&init, &error);
  if (server->context_ == nullptr) {
    if (!server->tls_error_.ok()) return server->tls_error_;
    return absl::UnavailableError(
        absl::StrCat("cannot serve HTTP on ", options.listen, ": ", error_text));
  }
  mg_set_request_handler(server->context_, "/", &HttpServer::HandleRequest, server.get());
  std::vector<mg_server_port> bound(4);
  const int count =
      mg_get_server_ports(server->context_, static_cast<int>(bound.size()), bound.data());
  if (count > 0) server->port_ = bound[0].port;
  return server;
}

void HttpServer::Stop() {
  if (context_ != nullptr) {
    mg_stop(context_);  // joins every worker: the requests being served finish
    context_ = nullptr;
  }
}

}  // namespace rnnserve::server::v2
