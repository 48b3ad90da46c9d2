// A set of sessions keyed by their own ids (SessionStore's shards).
#ifndef RNNSERVE_SERVER_SESSION_SET_H_
#define RNNSERVE_SERVER_SESSION_SET_H_

#include <cstddef>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "server/session.h"

namespace rnnserve::server {

// Hashes and compares a session by its id, and an id as that session, so a
// set of SessionPtrs (8 bytes a slot) is found by id without storing the id
// twice (as a map from id to session would). Never null.
struct SessionIdHash {
  using is_transparent = void;
  size_t operator()(absl::string_view id) const { return absl::Hash<absl::string_view>{}(id); }
  size_t operator()(const SessionPtr& session) const { return (*this)(session->id()); }
};
struct SessionIdEq {
  using is_transparent = void;
  static absl::string_view IdOf(absl::string_view id) { return id; }
  static absl::string_view IdOf(const SessionPtr& session) { return session->id(); }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return IdOf(a) == IdOf(b);
  }
};

// Not thread-safe: the store locks each shard's set.
using SessionSet = absl::flat_hash_set<SessionPtr, SessionIdHash, SessionIdEq>;

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_SESSION_SET_H_
