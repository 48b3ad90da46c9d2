// A few threads running queued tasks in order: the home of work too long for
// gRPC's callback threads, whose reactions must return at once (STYLE.md).
// Whole sequences run here. The queue is bounded so a flood is refused at
// once rather than held in memory. Thread-safe; owns and joins its threads.
#ifndef RNNSERVE_SERVER_TASK_POOL_H_
#define RNNSERVE_SERVER_TASK_POOL_H_

#include <cstdint>
#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace rnnserve::server {

class TaskPool {
 public:
  using Task = absl::AnyInvocable<void() &&>;

  // REQUIRES: threads > 0, max_queue > 0.
  TaskPool(int threads, int64_t max_queue);
  ~TaskPool();  // Shutdown().
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  // Queues `task`. RESOURCE_EXHAUSTED when max_queue tasks wait, UNAVAILABLE
  // after Shutdown(); `task` is then dropped unrun.
  absl::Status Submit(Task task) ABSL_LOCKS_EXCLUDED(mu_);
  // Refuses new tasks, runs every queued one, joins the threads.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void WorkerLoop() ABSL_LOCKS_EXCLUDED(mu_);

  const int64_t max_queue_;
  absl::Mutex mu_;
  std::deque<Task> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_TASK_POOL_H_
