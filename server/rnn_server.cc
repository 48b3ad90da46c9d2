#include "server/rnn_server.h"

#include <malloc.h>

#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/callback_gauge.h"
#include "server/cluster/advertise_address.h"
#include "server/session_handoff.h"
#include "server/session_snapshot.h"
#include "util/file.h"
#include "util/status_macros.h"

namespace rnnserve::server {
namespace {

// Server reflection describes services from protobuf's generated descriptor
// pool. gRPC's built-in health service is not generated code, so nothing
// puts grpc/health/v1/health.proto there: reflection listed
// grpc.health.v1.Health but could not describe it, so buf curl and grpcurl
// could neither list the methods nor call Health. Naming a generated health
// message links health.pb.cc, whose static initializer adds the file.
void AddHealthDescriptorsForReflection() {
  CHECK(grpc::health::v1::HealthCheckRequest::descriptor() != nullptr);
}

// The tier's settings from the flags: INVALID_ARGUMENT for a URL that does
// not parse or a password file that cannot be read, so that a typo stops the
// server rather than leaving it without the store it was asked to use.
absl::StatusOr<cluster::SessionTierOptions> SessionTierOptionsFrom(const SessionStoreOptions& store,
                                                                   const std::string& advertise) {
  cluster::SessionTierOptions tier;
  RNN_ASSIGN_OR_RETURN(tier.redis.address, cluster::ParseRedisUrl(store.url));
  if (!store.password_file.empty()) {
    absl::StatusOr<std::string> password = util::ReadFileToString(store.password_file);
    if (!password.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--session_store_password_file: ", password.status().message()));
    }
    tier.redis.password = std::string(absl::StripTrailingAsciiWhitespace(*password));
  }
  tier.prefix = store.prefix;
  tier.advertise = advertise;
  tier.checkpoint_interval = store.checkpoint_interval;
  if (store.record_ttl > absl::ZeroDuration()) tier.record_ttl = store.record_ttl;
  return tier;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RnnServer>> RnnServer::Start(const ServerOptions& options) {
  // Bad TLS or token files fail before the slow part (models, snapshot).
  RNN_ASSIGN_OR_RETURN(const std::shared_ptr<grpc::ServerCredentials> credentials,
                       MakeServerCredentials(options.security));
  std::unique_ptr<RnnServer> server(new RnnServer());
  if (!options.security.token_file.empty()) {
    RNN_ASSIGN_OR_RETURN(TokenCheck token, TokenCheck::FromFile(options.security.token_file));
    server->token_ = std::make_unique<TokenCheck>(std::move(token));
  }
  server->options_ = options;
  server->registry_ = std::make_shared<prometheus::Registry>();
  server->metrics_ = std::make_unique<ServerMetrics>(*server->registry_);
  server->metrics_->SetSessionLimit(options.sessions.max_sessions);
  RNN_ASSIGN_OR_RETURN(
      server->models_,
      ServedModels::Load(options.models, options.sessions.max_sessions, server->metrics_.get(),
                         options.load, options.model_versions));
  for (const model::LoadProblem& p : server->models_->problems()) {
    LOG(WARNING) << "model " << p.name << " version " << p.version
                 << " skipped: " << p.status.message();
  }
  for (const ServedModelPtr& m : server->models_->List()) {
    LOG(INFO) << "model " << m->name << " version " << m->version << " loaded: "
              << m->loaded.info.format << ", " << m->loaded.info.fingerprint << " in "
              << absl::Seconds(m->loaded.info.load_seconds);
  }
  SessionStore::Options sessions = options.sessions;
  sessions.track_changes = !options.session_store.url.empty();  // for the checkpoint writer
  server->store_ = std::make_unique<SessionStore>(sessions);
  server->RestoreSessions();
  if (!options.session_store.url.empty()) {
    RNN_ASSIGN_OR_RETURN(
        const cluster::ReplicaAddress address,
        cluster::ResolveReplicaAddress(options.listen, options.session_store.advertise));
    server->options_.listen = address.listen;
    RNN_ASSIGN_OR_RETURN(cluster::SessionTierOptions tier,
                         SessionTierOptionsFrom(options.session_store, address.advertise));
    if (server->token_ != nullptr) tier.authorization = server->token_->authorization();
    server->tier_ = std::make_unique<cluster::SessionTier>(
        tier, server->store_.get(), server->models_.get(), *server->registry_);
    server->store_->set_gone_listener(
        [tier = server->tier_.get()](const std::string& id, int64_t epoch) {
          tier->Forget(id, epoch);
        });
    if (!options.handoff_target.empty()) {
      LOG(WARNING) << "--handoff_to=" << options.handoff_target
                   << " is not used with --session_store: at shutdown the sessions' final "
                      "checkpoints are released in the store, and the replicas that get their "
                      "next steps take them from there (or from this one while it drains)";
    }
  }
  server->batcher_ = std::make_unique<StepBatcher>(options.batcher);
  AdmissionLimits limits = options.admission;
  limits.max_message_bytes = options.max_message_bytes;  // the send limit
  server->admission_ = std::make_unique<Admission>(limits);
  const InflightBudget* budget = &server->admission_->budget();
  server->scrape_gauges_ = {
      std::make_shared<CallbackGauge>(
          "rnnserve_queue_depth", "Step requests waiting for a batch (bounded by --max_queue).",
          [batcher = server->batcher_.get()] { return static_cast<double>(batcher->pending()); }),
      std::make_shared<CallbackGauge>(
          "rnnserve_inflight_bytes",
          "Bytes reserved by the step, chunk and whole-sequence requests running or queued "
          "(bounded by --max_inflight_bytes).",
          [budget] { return static_cast<double>(budget->used_bytes()); }),
      std::make_shared<CallbackGauge>(
          "rnnserve_inflight_bytes_limit", "The --max_inflight_bytes budget.",
          [budget] { return static_cast<double>(budget->limit_bytes()); })};
  server->handler_ = std::make_unique<StepHandler>(server->store_.get(), server->models_.get(),
                                                   server->batcher_.get(), server->admission_.get(),
                                                   &server->gate_, server->tier_.get());
  server->sequences_ =
      std::make_unique<TaskPool>(options.sequence_workers, options.max_queued_sequences);
  server->inference_ = std::make_unique<InferenceServiceImpl>(
      server->handler_.get(), server->sequences_.get(), server->metrics_.get(),
      server->token_.get());
  server->v2_runner_ = std::make_unique<v2::InferRunner>(
      server->handler_.get(), server->models_.get(), server->sequences_.get());
  server->v2_inference_ = std::make_unique<v2::GrpcInferenceService>(
      server->v2_runner_.get(), server->models_.get(), server->metrics_.get(),
      server->inference_->stream_drain(), server->token_.get());
  server->session_service_ = std::make_unique<SessionServiceImpl>(
      server->store_.get(), server->models_.get(), &absl::Now, server->metrics_.get(),
      server->token_.get(), &server->gate_, server->tier_.get());
  server->model_service_ =
      std::make_unique<ModelServiceImpl>(server->models_.get(), server->metrics_.get(),
                                         server->token_.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  AddHealthDescriptorsForReflection();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(server->options_.listen, credentials, &server->port_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));
  const auto millis = [](absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); };
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, millis(options.keepalive.time));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, millis(options.keepalive.timeout));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             millis(options.keepalive.min_client_ping));
  builder.RegisterService(server->inference_.get());
  builder.RegisterService(server->v2_inference_.get());
  builder.RegisterService(server->session_service_.get());
  builder.RegisterService(server->model_service_.get());
  if (server->tier_ != nullptr) {
    server->cluster_service_ = std::make_unique<cluster::ClusterServiceImpl>(
        server->tier_.get(), server->token_.get(), server->metrics_.get());
    builder.RegisterService(server->cluster_service_.get());
  }
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", server->options_.listen));
  }
  if (!options.http_listen.empty()) {
    server->http_routes_ = std::make_unique<v2::HttpRoutes>(
        server->v2_runner_.get(), server->models_.get(), server->metrics_.get(),
        server->token_.get(), options.http_infer_timeout);
    const v2::HttpServerOptions http{.listen = options.http_listen,
                                     .threads = options.http_threads,
                                     .max_body_bytes = options.max_message_bytes,
                                     // HTTPS with gRPC's TLS files: never plain HTTP beside
                                     // a TLS gRPC port.
                                     .tls = {.cert = options.security.tls_cert,
                                             .key = options.security.tls_key,
                                             .client_ca = options.security.tls_client_ca}};
    absl::StatusOr<std::unique_ptr<v2::HttpServer>> started =
        v2::HttpServer::Start(http, server->http_routes_.get());
    if (!started.ok()) return started.status();  // ~RnnServer stops the rest
    server->http_ = *std::move(started);
    LOG(INFO) << "serving the Open Inference Protocol over "
              << (options.security.tls_cert.empty() ? "HTTP" : "HTTPS") << " on "
              << options.http_listen << " (port " << server->http_->port() << ")";
  }
  if (server->tier_ != nullptr) server->tier_->Start();
  grpc::HealthCheckServiceInterface* health = server->server_->GetHealthCheckService();
  health->SetServingStatus("", true);
  for (const ServedModelPtr& m : server->models_->List()) health->SetServingStatus(m->name, true);
  LOG(INFO) << "serving gRPC on " << server->options_.listen << " (port " << server->port_ << ")";
  RnnServer* s = server.get();
  const absl::Duration sweep_period =
      std::clamp(options.sessions.idle_timeout / 4, absl::Milliseconds(100), absl::Seconds(5));
  s->RunEvery(sweep_period, [s] { s->SweepIdleSessions(); });
  if (!options.snapshot_path.empty() && options.snapshot_interval > absl::ZeroDuration()) {
    s->RunEvery(options.snapshot_interval, [s] { s->SaveSessions().IgnoreError(); });  // logged
  }
  if (options.model_poll_interval > absl::ZeroDuration()) {
    s->RunEvery(options.model_poll_interval, [s] { s->ReloadModels(); });
  }
  return server;
}

void RnnServer::RestoreSessions() {
  const std::string& path = options_.snapshot_path;
  if (path.empty()) return;
  if (!options_.session_store.url.empty()) {
    // The store knows where each session went since this file was written:
    // restoring it would bring back states other replicas have moved on.
    LOG(WARNING) << "--snapshot " << path << " is not restored: with --session_store the "
                 << "sessions come from the store (written at shutdown all the same)";
    return;
  }
  const absl::Time start = absl::Now();
  const absl::StatusOr<RestoreResult> restored =
      RestoreSnapshot(path, *models_, *store_, start);
  if (absl::IsNotFound(restored.status())) {
    LOG(INFO) << "no session snapshot at " << path << "; starting with no sessions";
    return;
  }
  if (!restored.ok()) {
    // Kept aside, not overwritten by the next snapshot: someone may want it.
    const std::string aside = path + ".broken";
    std::rename(path.c_str(), aside.c_str());
    LOG(ERROR) << "session snapshot not restored, moved to " << aside << ": "
               << restored.status();
    return;
  }
  LOG(INFO) << "restored " << restored->restored << " sessions from " << path << " in "
            << absl::Now() - start << "; " << restored->skipped << " skipped";
  for (const std::string& problem : restored->problems) LOG(WARNING) << "skipped " << problem;
}

absl::StatusOr<int64_t> RnnServer::SaveSessions() {
  const absl::Time start = absl::Now();
  absl::StatusOr<int64_t> written = WriteSnapshot(options_.snapshot_path, *store_, *models_);
  if (!written.ok()) {
    LOG(ERROR) << "session snapshot failed: " << written.status();
  } else {
    VLOG(1) << "wrote " << *written << " sessions to " << options_.snapshot_path << " in "
            << absl::Now() - start;
  }
  return written;
}

RnnServer::~RnnServer() { Shutdown(absl::ZeroDuration()); }

void RnnServer::RunEvery(absl::Duration period, std::function<void()> task) {
  periodic_.emplace_back([this, period, task = std::move(task)] {
    while (!stop_periodic_.WaitForNotificationWithTimeout(period)) task();
  });
}

void RnnServer::SweepIdleSessions() {
  const int expired = store_->ReapIdle(absl::Now());
  if (expired > 0) VLOG(1) << expired << " idle sessions expired";
  FreeUnusedModels();
}

void RnnServer::ReloadModels() {
  LoadAndRetireModels();
  FreeUnusedModels();  // what was retired before and has no session left
}

void RnnServer::LoadAndRetireModels() {
  absl::MutexLock lock(&model_lifecycle_mu_);
  const absl::StatusOr<ServedModels::Reloaded> reloaded =
      models_->Reload(options_.models, options_.sessions.max_sessions, metrics_.get());
  if (!reloaded.ok()) {
    LOG(WARNING) << "model reload: " << reloaded.status() << "; still serving what was loaded";
    return;
  }
  for (const model::LoadProblem& p : reloaded->problems) {
    LOG(WARNING) << "model reload: " << p.name << " version " << p.version
                 << " refused: " << p.status.message();
  }
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  for (const ServedModelPtr& m : reloaded->added) {
    LOG(INFO) << "model " << m->name << " version " << m->version << " loaded (reload): "
              << m->loaded.info.format << ", " << m->loaded.info.fingerprint;
    health->SetServingStatus(m->name, true);
  }
  for (const ServedModelPtr& m : reloaded->retired) {
    LOG(INFO) << "model " << m->name << " version " << m->version
              << " retired (its folder left the repository, or --model_versions keeps newer "
                 "ones): no new sessions; freed once its "
              << m->pool->live() << " live sessions end";
    if (models_->Versions(m->name).empty()) health->SetServingStatus(m->name, false);
  }
}

void RnnServer::FreeUnusedModels() {
  // A reload running (it may load for seconds) frees when it is done; the
  // idle sweep does not wait for it.
  if (!model_lifecycle_mu_.TryLock()) return;
  std::vector<ServedModelPtr> unused = models_->TakeUnused(absl::Now());
  for (const ServedModelPtr& m : unused) {
    batcher_->ForgetModel(m->loaded.stack.get());
    metrics_->ClearModelInfo(m->name, m->version);
    LOG(INFO) << "model " << m->name << " version " << m->version
              << " unloaded: " << m->loaded.info.weight_bytes << " weight bytes freed";
  }
  model_lifecycle_mu_.Unlock();
  if (unused.empty()) return;
  unused.clear();  // the weights and pools go here
  // glibc keeps freed heap memory for reuse; a model's matrices are below
  // its (adaptive) mmap threshold, so without a trim the process's RSS
  // would not shrink by what the versions held.
  malloc_trim(0);
}

void RnnServer::Shutdown(absl::Duration drain) {
  // A Start() that failed midway has nothing running to stop.
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  LOG(INFO) << "shutting down: draining for at most " << drain;
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  health->SetServingStatus("", false);
  for (const ServedModelPtr& m : models_->List()) health->SetServingStatus(m->name, false);
  v2_inference_->StopServing();
  if (http_routes_ != nullptr) http_routes_->StopServing();
  const absl::Time deadline = absl::Now() + drain;
  if (tier_ != nullptr) {
    ReleaseSessions(deadline);
  } else if (options_.handoff_target.empty()) {
    // Streams answer the step they hold and end; unary calls in flight
    // finish (their steps are already queued); new calls are refused. Past
    // the deadline gRPC cancels what is left.
    inference_->DrainStreams();
    server_->Shutdown(absl::ToChronoTime(deadline));
  } else {
    // The sessions move before any client hears that this server is going:
    // streams step nothing more but stay open while the listener closes (so
    // the proxy routes elsewhere) and the sessions move; only then do the
    // streams end, and a client that reconnects at once finds its session
    // on its new replica. gRPC's Shutdown waits for the held streams, so it
    // runs beside the handoff.
    inference_->HoldStreams();
    std::thread stopping([this, deadline] { server_->Shutdown(absl::ToChronoTime(deadline)); });
    HandOffSessions(deadline);
    inference_->DrainStreams();
    stopping.join();
  }
  // REST requests being answered finish (the batcher still runs); new ones
  // got 503 since StopServing.
  if (http_ != nullptr) http_->Stop();
  batcher_->Shutdown();
  sequences_->Shutdown();
  stop_periodic_.Notify();
  for (std::thread& thread : periodic_) thread.join();
  // Every step is done now, so the snapshot holds every session as its
  // client last saw it answered.
  if (!options_.snapshot_path.empty()) {
    const absl::StatusOr<int64_t> saved = SaveSessions();
    if (saved.ok()) LOG(INFO) << "saved " << *saved << " sessions to " << options_.snapshot_path;
  }
  LOG(INFO) << "stopped; " << store_->size() << " sessions were live; "
            << static_cast<int64_t>(StepsComputed()) << " steps computed since start";
}

void RnnServer::ReleaseSessions(absl::Time deadline) {
  // Streams step nothing more but stay open, and the listener too, while
  // the steps in flight are answered and every session's final checkpoint
  // is written and released: a replica that takes a session from now on
  // gets exactly the state its client saw answered, from this replica
  // (TakeSession still answers) or from the released checkpoint. Only then
  // does the listener close (the proxy routes elsewhere) and do the streams
  // end. The released checkpoints are the handoff: --handoff_to's imports
  // would race with those pulls.
  inference_->HoldStreams();
  const absl::Time start = absl::Now();
  if (!gate_.CloseAndWait(deadline)) {
    LOG(ERROR) << "shutdown: steps still running at the drain deadline; their sessions' "
               << "checkpoints may miss them";
  }
  tier_->FlushAndStop(std::max(deadline, absl::Now() + absl::Seconds(1)));
  LOG(INFO) << "shutdown: " << store_->size() << " sessions checkpointed and released in "
            << absl::Now() - start;
  std::thread stopping([this, deadline] { server_->Shutdown(absl::ToChronoTime(deadline)); });
  inference_->DrainStreams();
  stopping.join();
}

void RnnServer::HandOffSessions(absl::Time deadline) {
  const absl::Time start = absl::Now();
  if (!gate_.CloseAndWait(deadline)) {
    // A state exported now could miss a step its client sees answered.
    LOG(ERROR) << "handoff: steps still running at the drain deadline; sessions not moved";
    return;
  }
  const absl::Time listener_deadline = std::min(deadline, start + absl::Seconds(5));
  if (!WaitUntilNotListening(options_.listen, port_, listener_deadline)) {
    LOG(WARNING) << "handoff: port " << port_ << " still accepts connections; the proxy may "
                 << "route some imports back here (they are retried)";
  }
  HandoffOptions handoff;
  handoff.target = options_.handoff_target;
  if (token_ != nullptr) handoff.authorization = token_->authorization();
  handoff.deadline = deadline;
  const HandoffResult moved = server::HandOffSessions(*store_, *models_, handoff);
  LOG(INFO) << "handoff: moved " << moved.moved << " sessions to " << handoff.target << " in "
            << absl::Now() - start << "; " << moved.failed << " not moved";
}

double RnnServer::StepsComputed() const { return metrics_->StepsComputed(); }

}  // namespace rnnserve::server
