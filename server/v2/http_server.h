// The HTTP/REST listener of the Open Inference Protocol: civetweb (Debian's
// libcivetweb, which prometheus-cpp's exposer already links) reads requests
// on a bounded pool of threads, each holding one connection at a time, and
// hands them to HttpRoutes, which does everything protocol-specific. The
// body is refused by its length before it is read when it is longer than
// the limit. With `tls` files it serves HTTPS only, from the same files as
// gRPC's TLS (https_setup.h says what it takes with Debian's civetweb 1.15
// on OpenSSL 3). Start() once; Stop() (or the destructor) once: it waits for the
// requests being served. Thread-safe between them.
#ifndef RNNSERVE_SERVER_V2_HTTP_SERVER_H_
#define RNNSERVE_SERVER_V2_HTTP_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/v2/http_routes.h"
#include "server/v2/https_setup.h"

struct mg_context;
struct mg_connection;

namespace rnnserve::server::v2 {

struct HttpServerOptions {
  std::string listen = "127.0.0.1:8000";  // HOST:PORT; port 0 picks a free one
  // Connections served at once; a keep-alive connection holds its thread
  // until it closes or idles for keep_alive_ms.
  int threads = 32;
  int keep_alive_ms = 2000;
  int64_t max_body_bytes = 16 << 20;  // longer bodies get 413
  HttpsFiles tls;                     // tls.cert empty: plain HTTP
};

class HttpServer {
 public:
  // Listens on options.listen. `routes` not owned; outlives the server.
  // UNAVAILABLE when the address cannot be bound; https_setup.h's errors
  // when TLS cannot be set up.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                           const HttpRoutes* routes);
  ~HttpServer() { Stop(); }

  // Closes the listener and waits for the requests being served.
  void Stop();
  int port() const { return port_; }

 private:
  HttpServer(const HttpServerOptions& options, const HttpRoutes* routes)
      : options_(options), routes_(routes) {}
  // civetweb's callbacks; `data` is the HttpServer.
  static int HandleRequest(::mg_connection* connection, void* data);
  // civetweb's init_ssl: configures its SSL_CTX from options_.tls; 1 when
  // done, -1 (civetweb fails to start) with the reason in tls_error_.
  static int InitTls(void* ssl_ctx, void* data);

  const HttpServerOptions options_;
  const HttpRoutes* const routes_;
  struct mg_context* context_ = nullptr;
  int port_ = 0;
  absl::Status tls_error_;  // set by InitTls, read after mg_start2 returned
};

}  // namespace rnnserve::server::v2

#endif  // RNNSERVE_SERVER_V2_HTTP_SERVER_H_
