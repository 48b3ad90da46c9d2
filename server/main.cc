// rnnserve: serves every model of a repository folder over gRPC.
//   build/bin/rnnserve --models=models --listen=127.0.0.1:50051
// SIGTERM or SIGINT drains and exits 0; SIGHUP serves new model versions.
#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <iostream>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "glog/logging.h"
#include "prometheus/exposer.h"
#include "server/process_metrics.h"
#include "server/rnn_server.h"
#include "util/batch_scheduling.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "gRPC address HOST:PORT; port 0 picks a free port (logged). The container "
          "listens on 0.0.0.0");
ABSL_FLAG(std::string, http_listen, "127.0.0.1:8000",
          "HTTP/REST address HOST:PORT of the Open Inference Protocol (KServe v2 / Triton: "
          "/v2/...), with the same token and --max_message_bytes (the body limit) as gRPC; "
          "with --tls_cert/--tls_key (and --tls_client_ca) it serves HTTPS only, from the same "
          "files; port 0 picks a free port (logged); empty: no HTTP listener");
ABSL_FLAG(int, http_threads, 32,
          "HTTP connections served at once (a keep-alive connection holds its thread until "
          "it closes or idles 2 s); more wait to be accepted");
ABSL_FLAG(absl::Duration, http_infer_timeout, absl::Seconds(60),
          "an HTTP/REST inference request's deadline (HTTP carries none): a step still "
          "queued then is dropped, and the request is answered 504 then at the latest, "
          "freeing its HTTP thread (a step may still apply; gRPC calls use their own deadline)");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:9464",
          "Prometheus /metrics address HOST:PORT; port 0 picks a free port (logged); empty: "
          "no metrics listener");
ABSL_FLAG(std::string, models, "models", "the model repository: MODELS/<name>/<version>/");
ABSL_FLAG(std::string, weights, "",
          "fp32|bf16|int8: pack every model's weights at this precision, overriding its "
          "config.json \"weights\"; empty: each model's own (fp32 by default)");
ABSL_FLAG(int64_t, max_sessions, 1'000'000, "most live sessions");
ABSL_FLAG(std::string, full_policy, "refuse",
          "at max_sessions: refuse (RESOURCE_EXHAUSTED) or evict_lru (end the least "
          "recently used session)");
ABSL_FLAG(absl::Duration, idle_timeout, absl::Minutes(30),
          "sessions unused this long expire (their next non-start step gets NOT_FOUND)");
ABSL_FLAG(int, workers, 0,
          "step threads; 0 = one per CPU this process may run on (its affinity: taskset, "
          "a container's cpuset)");
ABSL_FLAG(int, max_batch, 64, "most sessions stepped together");
ABSL_FLAG(absl::Duration, max_queue_delay, absl::ZeroDuration(),
          "how long a step may wait for a batch to fill (0: never waits)");
ABSL_FLAG(int64_t, max_queue, 100'000, "most pending step requests (RESOURCE_EXHAUSTED past)");
ABSL_FLAG(int, inline_max_steps, 16,
          "a request of at most this many steps, arriving while no other request is in flight "
          "(queued, computing or being answered) and few were lately, is computed on the gRPC "
          "thread that read it (no hand-off; a load that forms batches keeps them); 0 = never "
          "(nor with a --max_queue_delay)");
ABSL_FLAG(bool, sched_batch, false,
          "for a server alone on its cores (pinned, no other busy process there): run every "
          "thread under Linux's SCHED_BATCH policy, where a woken thread waits for the running "
          "one to block or use up its slice instead of preempting it; a worker's batch of "
          "answers then costs one switch instead of one each (one pinned core, 64 streams: "
          "0.8x server CPU, 1.25x steps/s). Beside another busy process every wake-up waits "
          "for its slice (1 stream: p50 148 us -> 4 ms), hence off by default; false: the "
          "policy the process was started with");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(10),
          "on SIGTERM/SIGINT, how long in-flight calls may take to finish");
ABSL_FLAG(int64_t, max_message_bytes, 16 << 20,
          "largest request or response message; a request whose answer would be larger is "
          "refused before any work (INVALID_ARGUMENT, naming the largest chunk that fits)");
ABSL_FLAG(int64_t, max_steps_per_request, 0,
          "most steps one request (Step, StreamSteps, RunSequence) may carry, at most 2^20; "
          "0: one per 64 bytes of --max_message_bytes (262144 at 16 MiB)");
ABSL_FLAG(int64_t, max_inflight_bytes, int64_t{1} << 30,
          "budget for what running and queued step, chunk and whole-sequence requests "
          "allocate (inputs, outputs, answers); a request past it is refused at once with "
          "RESOURCE_EXHAUSTED. Default 1 GiB");
ABSL_FLAG(absl::Duration, keepalive_time, absl::Minutes(1),
          "ping a client connection that has been quiet this long");
ABSL_FLAG(absl::Duration, keepalive_timeout, absl::Seconds(20),
          "close a connection whose ping is not acknowledged within this");
ABSL_FLAG(std::string, log_level, "info",
          "least severe log lines written: info, warning or error (one line per model "
          "load and lifecycle event at info; never one per step)");
ABSL_FLAG(std::string, snapshot, "",
          "session snapshot file: restored at start, written at shutdown (and every "
          "--snapshot_interval), so restarts lose no session; empty: sessions live in "
          "memory only");
ABSL_FLAG(absl::Duration, snapshot_interval, absl::ZeroDuration(),
          "also write the snapshot this often while serving, bounding what a crash "
          "(kill -9) loses; 0: only at shutdown");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain: with --tls_key, serve over TLS");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA certificates: mutual TLS, clients must present a certificate they signed");
ABSL_FLAG(std::string, token_file, "",
          "file holding a bearer token: every RPC but grpc.health.v1.Health must send "
          "\"authorization: Bearer <token>\" (else UNAUTHENTICATED)");
ABSL_FLAG(absl::Duration, model_poll_interval, absl::ZeroDuration(),
          "look this often for model versions added to --models (SIGHUP looks at once); "
          "0: only on SIGHUP");
ABSL_FLAG(int, model_versions, 0,
          "serve the newest N versions of each model that load (older ones are not loaded, "
          "and a reload retires them: their sessions go on, then they are freed); 0: every "
          "version in --models");
ABSL_FLAG(std::string, handoff_to, "",
          "HOST:PORT, normally the session-affinity proxy in front of the replicas: on "
          "SIGTERM, move every session there (each import carries its x-session-id) before "
          "the open streams end, so clients continue on the replica that takes over; "
          "empty: sessions stay here (and go into --snapshot, if set)");
ABSL_FLAG(std::string, session_store, "",
          "redis://HOST:PORT[/DB]: keep each session's owner and checkpoints in Redis so "
          "sessions survive scale-up, crashes and rolling updates (README \"Sessions across "
          "replicas\"); empty: sessions live in this process only");
ABSL_FLAG(std::string, session_store_password_file, "",
          "file holding the Redis password (AUTH), trailing newline ignored");
ABSL_FLAG(std::string, session_store_prefix, "rnnserve",
          "prefix of every Redis key, so that deployments can share one Redis");
ABSL_FLAG(std::string, advertise, "",
          "HOST:PORT the other replicas reach this one at (in Kubernetes the pod IP); "
          "default: --listen's host with the bound port, if that host is not a wildcard");
ABSL_FLAG(absl::Duration, checkpoint_interval, absl::Seconds(1),
          "with --session_store: write changed sessions' checkpoints this often (what a "
          "crash can lose)");
ABSL_FLAG(absl::Duration, session_store_record_ttl, absl::ZeroDuration(),
          "with --session_store: a session's Redis record expires this long after its last "
          "write (as --idle_timeout ends it in memory), so that a crashed replica's sessions "
          "that no client comes back for do not stay in Redis for good; costs about 46 bytes "
          "of Redis memory per session; 0: records stay until their session ends, expires "
          "or is evicted on a live replica");
ABSL_FLAG(int, verbosity, 0, "verbose logging level (VLOG); 1 adds idle-sweep counts");

namespace {

// The CPUs the scheduler may run this process on: fewer than the machine's
// under taskset or a container's cpuset, where one thread per core of the
// machine would only add switches. (A CFS quota without a cpuset is not
// seen; set --workers then.)
int UsableCpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

absl::StatusOr<rnnserve::server::ServerOptions> OptionsFromFlags() {
  using rnnserve::server::SessionStore;
  rnnserve::server::ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.models = absl::GetFlag(FLAGS_models);
  if (const std::string weights = absl::GetFlag(FLAGS_weights); !weights.empty()) {
    rnnserve::model::WeightPrecision precision;
    if (!rnnserve::model::ParseWeightPrecision(weights, &precision)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--weights=", weights, ": want fp32, bf16 or int8"));
    }
    options.load.weights = precision;
  }
  options.http_listen = absl::GetFlag(FLAGS_http_listen);
  options.http_threads = absl::GetFlag(FLAGS_http_threads);
  if (options.http_threads < 1 || options.http_threads > 1024) {
    return absl::InvalidArgumentError("--http_threads must be 1 to 1024");
  }
  options.http_infer_timeout = absl::GetFlag(FLAGS_http_infer_timeout);
  if (options.http_infer_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--http_infer_timeout must be positive");
  }
  options.sessions.max_sessions = absl::GetFlag(FLAGS_max_sessions);
  options.sessions.idle_timeout = absl::GetFlag(FLAGS_idle_timeout);
  const std::string policy = absl::GetFlag(FLAGS_full_policy);
  if (policy == "refuse") {
    options.sessions.full_policy = SessionStore::FullPolicy::kRefuse;
  } else if (policy == "evict_lru") {
    options.sessions.full_policy = SessionStore::FullPolicy::kEvictLeastRecentlyUsed;
  } else {
    return absl::InvalidArgumentError("--full_policy is \"" + policy +
                                      "\", want refuse or evict_lru");
  }
  const int workers = absl::GetFlag(FLAGS_workers);
  options.batcher.workers =
      workers > 0 ? workers : UsableCpus();
  options.batcher.max_batch = absl::GetFlag(FLAGS_max_batch);
  options.batcher.max_delay = absl::GetFlag(FLAGS_max_queue_delay);
  options.batcher.max_queue = absl::GetFlag(FLAGS_max_queue);
  options.batcher.inline_max_steps = absl::GetFlag(FLAGS_inline_max_steps);
  options.sequence_workers = options.batcher.workers;
  options.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  options.admission.max_steps_per_request = absl::GetFlag(FLAGS_max_steps_per_request);
  options.admission.max_inflight_bytes = absl::GetFlag(FLAGS_max_inflight_bytes);
  options.keepalive.time = absl::GetFlag(FLAGS_keepalive_time);
  options.keepalive.timeout = absl::GetFlag(FLAGS_keepalive_timeout);
  options.snapshot_path = absl::GetFlag(FLAGS_snapshot);
  options.model_poll_interval = absl::GetFlag(FLAGS_model_poll_interval);
  options.model_versions = absl::GetFlag(FLAGS_model_versions);
  if (options.model_versions < 0) {
    return absl::InvalidArgumentError("--model_versions must be 0 (every version) or more");
  }
  options.security = {.tls_cert = absl::GetFlag(FLAGS_tls_cert),
                      .tls_key = absl::GetFlag(FLAGS_tls_key),
                      .tls_client_ca = absl::GetFlag(FLAGS_tls_client_ca),
                      .token_file = absl::GetFlag(FLAGS_token_file)};
  options.snapshot_interval = absl::GetFlag(FLAGS_snapshot_interval);
  options.handoff_target = absl::GetFlag(FLAGS_handoff_to);
  options.session_store = {.url = absl::GetFlag(FLAGS_session_store),
                           .password_file = absl::GetFlag(FLAGS_session_store_password_file),
                           .prefix = absl::GetFlag(FLAGS_session_store_prefix),
                           .advertise = absl::GetFlag(FLAGS_advertise),
                           .checkpoint_interval = absl::GetFlag(FLAGS_checkpoint_interval),
                           .record_ttl = absl::GetFlag(FLAGS_session_store_record_ttl)};
  if (options.session_store.checkpoint_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--checkpoint_interval must be more than 0");
  }
  if (options.session_store.record_ttl < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--session_store_record_ttl must not be negative");
  }
  if (options.snapshot_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--snapshot_interval must be 0 or more");
  }
  if (options.sessions.max_sessions <= 0 || options.batcher.max_batch <= 0 ||
      options.batcher.max_queue <= 0) {
    return absl::InvalidArgumentError(
        "--max_sessions, --max_batch and --max_queue must be positive");
  }
  if (options.max_message_bytes < 1024 || options.max_message_bytes > (1LL << 31) - 1) {
    return absl::InvalidArgumentError("--max_message_bytes must be 1024 to 2^31-1");
  }
  if (options.admission.max_steps_per_request < 0 ||
      options.admission.max_steps_per_request > rnnserve::model::LayerStack::kMaxInputRows) {
    return absl::InvalidArgumentError("--max_steps_per_request must be 0 (derived) to 2^20");
  }
  if (options.admission.max_inflight_bytes <= 0) {
    return absl::InvalidArgumentError("--max_inflight_bytes must be positive");
  }
  if (options.keepalive.time <= absl::ZeroDuration() ||
      options.keepalive.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--keepalive_time and --keepalive_timeout must be > 0");
  }
  return options;
}

// glog's severity for --log_level.
absl::StatusOr<int> LogSeverity(const std::string& level) {
  if (level == "info") return google::GLOG_INFO;
  if (level == "warning") return google::GLOG_WARNING;
  if (level == "error") return google::GLOG_ERROR;
  return absl::InvalidArgumentError("--log_level is \"" + level +
                                    "\", want info, warning or error");
}

}  // namespace

int main(int argc, char** argv) {
  // Debian builds Abseil without NDEBUG, so every absl::Mutex lock (ours and
  // gRPC's) would run the deadlock detector: a global graph lock per lock
  // and a graph node per mutex ever locked, ~520 bytes per session. The
  // tests keep it on to catch lock-order bugs; the server does not pay it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::SetProgramUsageMessage("Serves recurrent models over gRPC. Flags: --helpfull");
  absl::ParseCommandLine(argc, argv);
  const absl::StatusOr<int> severity = LogSeverity(absl::GetFlag(FLAGS_log_level));
  const absl::StatusOr<rnnserve::server::ServerOptions> options = OptionsFromFlags();
  for (const absl::Status& status : {severity.status(), options.status()}) {
    if (!status.ok()) {
      std::cerr << "rnnserve: " << status.message() << "\n";
      return 2;
    }
  }
  FLAGS_logtostderr = true;
  FLAGS_minloglevel = *severity;
  FLAGS_v = absl::GetFlag(FLAGS_verbosity);
  google::InitGoogleLogging(argv[0]);
  // A crash prints its signal and stack to the log before the process dies.
  google::InstallFailureSignalHandler();
  // Every thread inherits this mask; only the sigwait below takes the signals.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // Likewise the scheduling policy, so this comes before the first thread.
  if (absl::GetFlag(FLAGS_sched_batch)) {
    if (const absl::Status status = rnnserve::util::UseBatchScheduling(); !status.ok()) {
      LOG(WARNING) << "--sched_batch: keeping the scheduling policy: " << status;
    }
  }

  absl::StatusOr<std::unique_ptr<rnnserve::server::RnnServer>> server =
      rnnserve::server::RnnServer::Start(*options);
  if (!server.ok()) {
    LOG(ERROR) << "cannot start: " << server.status();
    // A flag's value that can never work (an unparsable --session_store, an
    // unreadable file) is a usage error, as for the flags checked above.
    return absl::IsInvalidArgument(server.status()) ? 2 : 1;
  }
  // Metrics over HTTP on their own port (port 0 picks one, logged); none
  // when the address is empty, as for --http_listen.
  std::unique_ptr<prometheus::Exposer> exposer;
  // The Exposer keeps weak pointers: main owns what it collects.
  const auto process_metrics = std::make_shared<rnnserve::server::ProcessMetrics>();
  if (absl::GetFlag(FLAGS_metrics_listen).empty()) {
    LOG(INFO) << "no /metrics listener (--metrics_listen is empty)";
  } else {
    try {
      exposer = std::make_unique<prometheus::Exposer>(absl::GetFlag(FLAGS_metrics_listen));
    } catch (const std::exception& e) {  // prometheus-cpp throws on a bad bind
      LOG(ERROR) << "cannot serve metrics on " << absl::GetFlag(FLAGS_metrics_listen) << ": "
                 << e.what();
      return 1;
    }
    exposer->RegisterCollectable((*server)->registry());
    for (const auto& gauge : (*server)->scrape_gauges()) exposer->RegisterCollectable(gauge);
    exposer->RegisterCollectable(process_metrics);
    for (int port : exposer->GetListeningPorts()) LOG(INFO) << "serving /metrics on port " << port;
  }
  int signal_number = 0;
  while (sigwait(&signals, &signal_number) == 0 && signal_number == SIGHUP) {
    LOG(INFO) << "SIGHUP: looking for new model versions in " << options->models;
    (*server)->ReloadModels();
  }
  LOG(INFO) << "received signal " << signal_number;
  (*server)->Shutdown(absl::GetFlag(FLAGS_drain_timeout));
  return 0;
}
