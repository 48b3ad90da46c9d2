// nginx run as deploy/README.md runs it, for the deployment tests: the
// shipped deploy/proxy/nginx.conf with only its ports rewritten (the listen
// port, and the upstream's server lines replaced by one per replica port),
// in the foreground, under a prefix folder of its own. Changing the replicas
// rewrites the upstream and reloads nginx (SIGHUP), as an operator or an
// endpoint controller would when a replica comes or goes. Not thread-safe; one
// owner.
#ifndef RNNSERVE_TESTS_DEPLOY_NGINX_PROXY_H_
#define RNNSERVE_TESTS_DEPLOY_NGINX_PROXY_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rnnserve::testing {

class NginxProxy {
 public:
  static constexpr char kBinary[] = "/usr/sbin/nginx";
  static bool Installed();

  // nginx listening on 127.0.0.1:`port` in front of 127.0.0.1:`replica_ports`
  // (each server line keeps the shipped parameters). FAILED_PRECONDITION when
  // the shipped config has no server line to rewrite; UNAVAILABLE with its log
  // when nginx exits at once.
  static absl::StatusOr<std::unique_ptr<NginxProxy>> Start(int port,
                                                           const std::vector<int>& replica_ports);
  ~NginxProxy();  // SIGQUIT (graceful), reaped; SIGKILL after 10 s.
  NginxProxy(const NginxProxy&) = delete;
  NginxProxy& operator=(const NginxProxy&) = delete;

  // Rewrites the upstream to `replica_ports` and reloads. Returns once the
  // master has started the workers of the new configuration (new connections
  // then hash onto the new ring; streams already open stay on the old workers
  // until they end); UNAVAILABLE with the log when that does not happen in
  // 10 s (e.g. the new configuration was refused).
  absl::Status SetReplicas(const std::vector<int>& replica_ports);

  // Waits until the workers of older configurations have exited. One keeps
  // serving the HTTP/2 connections it has, new streams on them included, with
  // its old upstream, until they have no stream open (the shipped config sets
  // no worker_shutdown_timeout); so a client whose connection stays busy
  // keeps the old ring. UNAVAILABLE with the log after `timeout`.
  absl::Status WaitForOldWorkers(absl::Duration timeout) const;

  int port() const { return port_; }
  std::string address() const;  // "127.0.0.1:<port>"
  bool running() const;
  std::string Log() const;        // the master's and workers' error log
  std::string AccessLog() const;  // one line per call or stream (the shipped format)

 private:
  NginxProxy(int port, std::string prefix) : port_(port), prefix_(std::move(prefix)) {}
  absl::Status WriteConfig(const std::vector<int>& replica_ports) const;

  const int port_;
  const std::string prefix_;
  std::string shipped_;  // deploy/proxy/nginx.conf as shipped
  int workers_ = 1;      // its worker_processes
  pid_t pid_ = 0;
};

}  // namespace rnnserve::testing

#endif  // RNNSERVE_TESTS_DEPLOY_NGINX_PROXY_H_
