// SessionService (DESIGN.md section 4): end, reset and describe a session,
// and move its state between replicas (export / import), over gRPC's
// callback API. Every reaction finishes at once; the only waits are for the
// session's mutex, i.e. for a step already running on that session.
#ifndef RNNSERVE_SERVER_SESSION_SERVICE_H_
#define RNNSERVE_SERVER_SESSION_SERVICE_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "rnnserve/v1/sessions.grpc.pb.h"
#include "server/cluster/session_tier.h"
#include "server/metrics.h"
#include "server/operation_gate.h"
#include "server/served_models.h"
#include "server/session_store.h"
#include "server/token_check.h"

namespace rnnserve::server {

class SessionServiceImpl final : public rnnserve::v1::SessionService::CallbackService {
 public:
  // Called from gRPC's threads, so it must be thread-safe.
  using Clock = std::function<absl::Time()>;

  // `store`, `models`, `metrics` (null: not counted), `token` (null: no
  // token needed) and `gate` (null: none; it counts End, Reset and Import)
  // are not owned and outlive the service. `clock` stamps session use and
  // measures idle time (tests pass a fake one). `tier` (null: none) finds
  // the sessions other replicas hold, and claims the imported ones.
  SessionServiceImpl(SessionStore* store, const ServedModels* models, Clock clock = &absl::Now,
                     ServerMetrics* metrics = nullptr, const TokenCheck* token = nullptr,
                     OperationGate* gate = nullptr, cluster::SessionTier* tier = nullptr)
      : store_(store),
        models_(models),
        clock_(std::move(clock)),
        metrics_(metrics),
        token_(token),
        gate_(gate),
        tier_(tier) {}

  // Each answers the session's id, model (version resolved), steps and idle
  // time; End and Reset as they were just before the call. INVALID_ARGUMENT
  // for a malformed id, NOT_FOUND for an unknown or expired session.
  grpc::ServerUnaryReactor* EndSession(grpc::CallbackServerContext* context,
                                       const rnnserve::v1::SessionRef* request,
                                       rnnserve::v1::SessionInfo* response) override;
  // Re-initialises the state (the model's InitState) and zeroes the steps.
  grpc::ServerUnaryReactor* ResetSession(grpc::CallbackServerContext* context,
                                         const rnnserve::v1::SessionRef* request,
                                         rnnserve::v1::SessionInfo* response) override;
  grpc::ServerUnaryReactor* DescribeSession(grpc::CallbackServerContext* context,
                                            const rnnserve::v1::SessionRef* request,
                                            rnnserve::v1::SessionInfo* response) override;
  // state_size float32 values, little-endian, with model, fingerprint, steps.
  grpc::ServerUnaryReactor* ExportState(grpc::CallbackServerContext* context,
                                        const rnnserve::v1::SessionRef* request,
                                        rnnserve::v1::SessionState* response) override;
  // Creates or replaces the session. NOT_FOUND for a model not served;
  // FAILED_PRECONDITION when the fingerprint is not the served model's;
  // INVALID_ARGUMENT for a wrong byte count, a non-finite value or negative
  // steps. Nothing changes on error.
  grpc::ServerUnaryReactor* ImportState(grpc::CallbackServerContext* context,
                                        const rnnserve::v1::SessionState* request,
                                        rnnserve::v1::SessionInfo* response) override;

 private:
  using Found = absl::StatusOr<SessionPtr>;

  // Finishes the call with the status of `op(found, now)`, counted under
  // `method`, where `found` is session `id` looked up for `use`: at once
  // when this replica decides the lookup alone, else on the tier's lookup
  // threads (a pull must not hold a gRPC callback thread).
  template <typename Op>
  grpc::ServerUnaryReactor* WithSession(grpc::CallbackServerContext* context, const char* method,
                                        const std::string& id, SessionStore::Use use, Op op);
  // Finishes the call with the status of `task(queued)`, run on the tier's
  // lookup threads (or at once with the error when it cannot queue).
  template <typename Task>
  grpc::ServerUnaryReactor* FinishOffCallbackThread(grpc::CallbackServerContext* context,
                                                    const char* method, Task task);
  absl::Status End(Found found, absl::Time now, rnnserve::v1::SessionInfo* info);
  absl::Status Reset(Found found, absl::Time now, rnnserve::v1::SessionInfo* info);
  absl::Status Import(const rnnserve::v1::SessionState& state, rnnserve::v1::SessionInfo* info);

  SessionStore* const store_;
  const ServedModels* const models_;
  const Clock clock_;
  ServerMetrics* const metrics_;
  const TokenCheck* const token_;
  OperationGate* const gate_;
  cluster::SessionTier* const tier_;
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_SESSION_SERVICE_H_
