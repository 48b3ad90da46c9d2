// How the other replicas reach this one (--advertise): given, or the
// --listen host with the port this server listens on. With a session store
// a listen port of 0 is turned into a concrete free port before the server
// starts, since the address goes into Redis before the first request.
#ifndef RNNSERVE_SERVER_CLUSTER_ADVERTISE_ADDRESS_H_
#define RNNSERVE_SERVER_CLUSTER_ADVERTISE_ADDRESS_H_

#include <string>

#include "absl/status/statusor.h"

namespace rnnserve::cluster {

struct ReplicaAddress {
  std::string listen;     // --listen, with a port of 0 made concrete
  std::string advertise;  // HOST:PORT for the session store
};

// INVALID_ARGUMENT when `listen` is not HOST:PORT, or when it is a wildcard
// (0.0.0.0, [::], *) and `advertise` is empty: peers cannot call a wildcard.
absl::StatusOr<ReplicaAddress> ResolveReplicaAddress(const std::string& listen,
                                                     const std::string& advertise);

}  // namespace rnnserve::cluster

#endif  // RNNSERVE_SERVER_CLUSTER_ADVERTISE_ADDRESS_H_
