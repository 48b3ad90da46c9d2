// The whole gRPC server: models, sessions, batcher, services, health and
// reflection, and the sweeper that expires idle sessions. main() and the
// end-to-end tests both run this. Start() once, Shutdown() once; thread-safe
// between them.
#ifndef RNNSERVE_SERVER_RNN_SERVER_H_
#define RNNSERVE_SERVER_RNN_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "prometheus/registry.h"
#include "server/admission.h"
#include "server/cluster/cluster_service.h"
#include "server/cluster/session_tier.h"
#include "server/inference_service.h"
#include "server/metrics.h"
#include "server/model_service.h"
#include "server/operation_gate.h"
#include "server/served_models.h"
#include "server/server_credentials.h"
#include "server/session_service.h"
#include "server/session_store.h"
#include "server/step_batcher.h"
#include "server/step_handler.h"
#include "server/task_pool.h"
#include "server/token_check.h"
#include "server/v2/grpc_inference_service.h"
#include "server/v2/http_routes.h"
#include "server/v2/http_server.h"
#include "server/v2/infer_runner.h"

namespace rnnserve::server {

// HTTP/2 keepalive (gRPC's keepalive guide). Streams stay open as long as
// sessions do, often idle between steps, so the server pings to find dead
// peers (and to keep NATs and proxies from dropping quiet connections), and
// tolerates client pings this frequent without calling them abuse.
struct KeepaliveOptions {
  absl::Duration time = absl::Minutes(1);        // ping a connection quiet this long
  absl::Duration timeout = absl::Seconds(20);    // drop it if the ack takes longer
  absl::Duration min_client_ping = absl::Seconds(10);  // clients may ping this often
};

// The Redis-backed session tier (server/cluster/session_tier.h); off when
// `url` is empty.
struct SessionStoreOptions {
  std::string url;            // redis://HOST:PORT[/DB]
  std::string password_file;  // empty: no AUTH
  std::string prefix = "rnnserve";
  std::string advertise;  // empty: the listen host and the bound port
  absl::Duration checkpoint_interval = absl::Seconds(1);
  // Records expire this long after their last write; 0: never.
  absl::Duration record_ttl = absl::ZeroDuration();
};

struct ServerOptions {
  std::string listen = "127.0.0.1:50051";  // port 0 picks a free one
  std::string models;                      // the model repository folder
  model::LoadOptions load;                 // --weights
  SessionStore::Options sessions;
  StepBatcher::Options batcher;
  int sequence_workers = 1;          // threads running whole sequences
  int64_t max_queued_sequences = 1024;
  int64_t max_message_bytes = 16 << 20;
  // Steps per request and the budget for work in flight (server/admission.h);
  // its max_message_bytes is set from the field above.
  AdmissionLimits admission;
  KeepaliveOptions keepalive;
  // Sessions survive restarts through this file (empty: they do not). It
  // is restored at Start(), written at Shutdown() and, when the interval is
  // positive, that often while serving (bounding what a crash loses).
  std::string snapshot_path;
  absl::Duration model_poll_interval = absl::ZeroDuration();  // 0: only when asked
  int model_versions = 0;    // each name serves its newest N versions; 0: all
  SecurityOptions security;  // TLS, mutual TLS, bearer token; none by default
  absl::Duration snapshot_interval = absl::ZeroDuration();
  // HOST:PORT (normally the session-affinity proxy) that takes this server's
  // sessions at Shutdown(), before the streams end; empty: they stay (and go
  // into the snapshot, if there is one).
  std::string handoff_target;
  SessionStoreOptions session_store;
  // The Open Inference Protocol over HTTP/REST (server/v2/http_server.h):
  // HOST:PORT, port 0 picks a free one; empty: no HTTP listener (main's
  // --http_listen defaults to 127.0.0.1:8000). It shares the token and
  // max_message_bytes (the body limit), and with security.tls_cert it
  // serves HTTPS only, from the same files (server/v2/https_setup.h).
  std::string http_listen;
  int http_threads = 32;
  // An HTTP inference request's deadline (HTTP carries none): a step still
  // queued then is dropped, and the request is answered 504 then at the
  // latest, freeing its HTTP thread (a gRPC call has its client's deadline).
  absl::Duration http_infer_timeout = absl::Seconds(60);
};

class RnnServer {
 public:
  // Loads the models and starts serving. FAILED_PRECONDITION / NOT_FOUND
  // when no model loads; UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<RnnServer>> Start(const ServerOptions& options);
  ~RnnServer();  // Shutdown(ZeroDuration()) if not done.

  // Health turns NOT_SERVING, new calls get UNAVAILABLE, steps already
  // accepted finish and are answered (within `drain`), open streams end with
  // UNAVAILABLE, then everything stops. With a handoff target the sessions
  // move there before the streams end.
  void Shutdown(absl::Duration drain);

  int port() const { return port_; }
  // The HTTP/REST port; 0 without options.http_listen.
  int http_port() const { return http_ != nullptr ? http_->port() : 0; }
  // The server's metrics; main exposes it over HTTP.
  std::shared_ptr<prometheus::Registry> registry() { return registry_; }
  // Gauges read at scrape time (the step queue's depth, the bytes in
  // flight), to expose beside registry(); valid as long as the server.
  const std::vector<std::shared_ptr<prometheus::Collectable>>& scrape_gauges() const {
    return scrape_gauges_;
  }
  const ServedModels& models() const { return *models_; }

  // Serves the model versions added to the repository since the last look
  // and retires those whose folder left it, or that newer ones outnumber
  // past options.model_versions (main calls it on SIGHUP;
  // --model_poll_interval calls it periodically). Sessions on older or
  // retired versions go on; new sessions take the newest served one; a
  // version that fails to load is logged and refused. A retired version is
  // freed once its last session ends (checked here and by the idle sweep).
  void ReloadModels() ABSL_LOCKS_EXCLUDED(model_lifecycle_mu_);
  SessionStore& sessions() { return *store_; }

 private:
  RnnServer() = default;
  // Runs `task` every `period` on a thread of its own until Shutdown().
  void RunEvery(absl::Duration period, std::function<void()> task);
  void SweepIdleSessions();
  // ReloadModels() but for the frees.
  void LoadAndRetireModels() ABSL_LOCKS_EXCLUDED(model_lifecycle_mu_);
  // Frees the retired model versions nothing uses any more: their weights,
  // pool, batcher queue and info metrics.
  void FreeUnusedModels() ABSL_LOCKS_EXCLUDED(model_lifecycle_mu_);
  // Restores options_.snapshot_path, if there is one.
  void RestoreSessions();
  // Writes the snapshot (logging a failure); how many sessions it holds.
  absl::StatusOr<int64_t> SaveSessions();
  // Stops listening, waits for the changes in flight and moves every
  // session to options_.handoff_target; the streams are held meanwhile.
  void HandOffSessions(absl::Time deadline);
  // With a session store instead: waits for the steps in flight, writes and
  // releases every session's final checkpoint, then stops listening and
  // ends the streams.
  void ReleaseSessions(absl::Time deadline);
  // Recurrent steps computed since start, over every model.
  double StepsComputed() const;

  ServerOptions options_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::vector<std::shared_ptr<prometheus::Collectable>> scrape_gauges_;
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<ServedModels> models_;
  // Serializes reloads and frees, so a version freed and loaded again in
  // between never loses its info metrics to the free.
  absl::Mutex model_lifecycle_mu_;
  std::unique_ptr<SessionStore> store_;
  std::unique_ptr<StepBatcher> batcher_;
  std::unique_ptr<Admission> admission_;
  OperationGate gate_;  // closed before a handoff
  std::unique_ptr<cluster::SessionTier> tier_;  // null without --session_store
  std::unique_ptr<cluster::ClusterServiceImpl> cluster_service_;
  std::unique_ptr<StepHandler> handler_;
  std::unique_ptr<TokenCheck> token_;  // null when no token is configured
  std::unique_ptr<TaskPool> sequences_;
  std::unique_ptr<InferenceServiceImpl> inference_;
  // The Open Inference Protocol (KServe v2 / Triton) on the same handler.
  std::unique_ptr<v2::InferRunner> v2_runner_;
  std::unique_ptr<v2::GrpcInferenceService> v2_inference_;
  std::unique_ptr<v2::HttpRoutes> http_routes_;
  std::unique_ptr<v2::HttpServer> http_;  // null without options.http_listen
  std::unique_ptr<SessionServiceImpl> session_service_;
  std::unique_ptr<ModelServiceImpl> model_service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  absl::Notification stop_periodic_;
  std::vector<std::thread> periodic_;  // sweeper, snapshotter, model poller
  bool shut_down_ = false;
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_RNN_SERVER_H_
