#include "server/task_pool.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace rnnserve::server {

TaskPool::TaskPool(int threads, int64_t max_queue) : max_queue_(max_queue) {
  CHECK_GT(threads, 0);
  CHECK_GT(max_queue, 0);
  threads_.reserve(threads);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { WorkerLoop(); });
}

TaskPool::~TaskPool() { Shutdown(); }

absl::Status TaskPool::Submit(Task task) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("the server is shutting down");
  if (static_cast<int64_t>(queue_.size()) >= max_queue_) {
    return absl::ResourceExhaustedError(
        absl::StrCat(queue_.size(), " whole sequences are already waiting; retry later"));
  }
  queue_.push_back(std::move(task));
  return absl::OkStatus();
}

void TaskPool::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void TaskPool::WorkerLoop() {
  while (true) {
    Task task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](TaskPool* pool) ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool->mu_) {
            return pool->stopping_ || !pool->queue_.empty();
          },
          this));
      if (queue_.empty()) return;  // Stopping, and nothing left to run.
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    std::move(task)();
  }
}

}  // namespace rnnserve::server
