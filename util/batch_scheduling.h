// Linux's SCHED_BATCH policy for a server's threads (issue 16).
//
// A step worker that has computed a batch starts one gRPC write per answer,
// and each write wakes one of gRPC's threads to complete it. Under the default
// policy the woken thread preempts the worker at once, so a batch of 25
// answers costs about 25 round trips between the two threads (perf stat: 1.3
// context switches a step at 64 streams). Under SCHED_BATCH a thread woken by
// another never preempts it: gRPC's thread runs when the worker blocks and
// completes every write in one pass (0.3 a step). Lone requests gain nothing
// and lose nothing: their thread blocks right after each wake-up anyway.
// Unprivileged, and the threads keep their nice value.
#ifndef RNNSERVE_UTIL_BATCH_SCHEDULING_H_
#define RNNSERVE_UTIL_BATCH_SCHEDULING_H_

#include "absl/status/status.h"

namespace rnnserve::util {

// Puts the calling thread under SCHED_BATCH. Threads it starts afterwards
// inherit the policy, so a program calls this before it starts any. The
// errno's code if the kernel refuses (a container's seccomp profile may).
absl::Status UseBatchScheduling();

}  // namespace rnnserve::util

#endif  // RNNSERVE_UTIL_BATCH_SCHEDULING_H_
