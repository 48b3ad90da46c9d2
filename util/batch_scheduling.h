// Linux's SCHED_BATCH policy for a server's threads (rnnserve --sched_batch,
// issue 16).
//
// A step worker that has computed a batch starts one gRPC write per answer,
// and each write wakes one of gRPC's threads to complete it. Under the default
// policy the woken thread preempts the worker at once on their shared core,
// so a batch of 25 answers costs about 25 round trips between the two threads
// (perf stat, one pinned core, 64 streams: 1.3 context switches a step). A
// SCHED_BATCH thread that wakes up never preempts the thread running on its
// core: it runs once that one blocks or its slice ends, and then completes
// every write in one pass (0.3 a step). That holds for any running thread,
// another process's too: beside a busy process every wake-up waits for that
// process's slice, which is why the server leaves this off unless told.
// Unprivileged; the threads keep their nice value.
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
