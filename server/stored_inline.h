// Whether absl::AnyInvocable (abseil 20220623, gRPC 1.51's) keeps a callable
// of type F in its own storage instead of on the heap: at most two pointers,
// aligned no more strictly than max_align_t, and nothrow-movable
// (absl/functional/internal/any_invocable.h). The step path's closures
// static_assert it: a capture added later would otherwise cost an allocation
// per step that only server_no_alloc_test would notice.
#ifndef RNNSERVE_SERVER_STORED_INLINE_H_
#define RNNSERVE_SERVER_STORED_INLINE_H_

#include <cstddef>
#include <type_traits>

namespace rnnserve::server {

template <typename F>
inline constexpr bool kStoredInline =
    sizeof(F) <= 2 * sizeof(void*) &&
    alignof(F) <= alignof(std::max_align_t) && std::is_nothrow_move_constructible_v<F>;

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_STORED_INLINE_H_
