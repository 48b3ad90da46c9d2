#include "util/batch_scheduling.h"

#include <sched.h>

#include <cerrno>

namespace rnnserve::util {

absl::Status UseBatchScheduling() {
  // SCHED_BATCH takes no static priority: 0 is the only valid one.
  const sched_param param{.sched_priority = 0};
  if (sched_setscheduler(0, SCHED_BATCH, &param) != 0) {
    const int error = errno;
    return absl::ErrnoToStatus(error, "sched_setscheduler(SCHED_BATCH)");
  }
  return absl::OkStatus();
}

}  // namespace rnnserve::util
