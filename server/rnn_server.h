// The whole gRPC server: models, sessions, batcher, services, health and
// reflection, and the sweeper that expires idle sessions. main() and the
// end-to-end tests both run this. Start() once, Shutdown() once; thread-safe
// between them.
#ifndef RNNSERVE_SERVER_RNN_SERVER_H_
#define RNNSERVE_SERVER_RNN_SERVER_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "prometheus/registry.h"
#include "server/inference_service.h"
#include "server/metrics.h"
#include "server/model_service.h"
#include "server/session_service.h"
#include "server/served_models.h"
#include "server/session_store.h"
#include "server/step_batcher.h"
#include "server/step_handler.h"

namespace rnnserve::server {

struct ServerOptions {
  std::string listen = "127.0.0.1:50051";  // port 0 picks a free one
  std::string models;                      // the model repository folder
  SessionStore::Options sessions;
  StepBatcher::Options batcher;
  int64_t max_message_bytes = 16 << 20;
};

class RnnServer {
 public:
  // Loads the models and starts serving. FAILED_PRECONDITION / NOT_FOUND
  // when no model loads; UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<RnnServer>> Start(const ServerOptions& options);
  ~RnnServer();  // Shutdown(ZeroDuration()) if not done.

  // Health turns NOT_SERVING, new calls get UNAVAILABLE, steps already
  // accepted finish (within `drain`), then everything stops.
  void Shutdown(absl::Duration drain);

  int port() const { return port_; }
  // The server's metrics; main exposes it over HTTP.
  std::shared_ptr<prometheus::Registry> registry() { return registry_; }
  const ServedModels& models() const { return *models_; }
  SessionStore& sessions() { return *store_; }

 private:
  RnnServer() = default;
  void SweepIdleSessions();

  ServerOptions options_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<ServedModels> models_;
  std::unique_ptr<SessionStore> store_;
  std::unique_ptr<StepBatcher> batcher_;
  std::unique_ptr<StepHandler> handler_;
  std::unique_ptr<InferenceServiceImpl> inference_;
  std::unique_ptr<SessionServiceImpl> session_service_;
  std::unique_ptr<ModelServiceImpl> model_service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  absl::Notification stop_sweeping_;
  std::thread sweeper_;
  bool shut_down_ = false;
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_RNN_SERVER_H_
