// Runs the steps of every session on a pool of worker threads (DESIGN.md
// sections 1 and 6). Pending steps wait in a queue per model version, so a
// batch's partners are the front of one queue, found without a scan: the
// steps and chunks of different sessions of one model that are pending at
// the same time run as one LayerStack::StepChunks (up to max_batch sessions
// and a bounded number of rows), chunks of different lengths together over
// their common prefix, then as the batch shrinks. The oldest runnable step
// goes first. A lone
// step never waits (max_delay 0): batches form from what queued while the
// workers were busy. One session's steps run in the order they were
// submitted and never two at once. Thread-safe; owns and joins its workers.
#ifndef RNNSERVE_SERVER_STEP_BATCHER_H_
#define RNNSERVE_SERVER_STEP_BATCHER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "model/engine/layer_stack.h"
#include "server/session_store.h"

namespace rnnserve::server {

// The input of one request, validated once at the edge (StepHandler's
// InputOf): `steps` rows checked by the model it is submitted with, which
// the batcher and the engine trust. A view: the rows stay in the request
// message, which its submitter keeps alive and unchanged until `done` runs.
struct StepInputData {
  model::CheckedInput rows;
  int64_t steps = 0;  // rows.rows()
  // The session's steps before these, as the client counts them; when set
  // and different when the step runs, nothing is applied (ABORTED, see
  // server/session_position.h).
  std::optional<int64_t> expected_session_steps;
};

// How a step went; its outputs are where Submit was told to write them.
struct StepOutcome {
  int64_t rows = 0;            // steps, or 1 when only the last was asked
  int64_t session_steps = 0;   // the session's total after this request
  absl::Duration queue_wait;
  absl::Duration compute;
  int batch_size = 0;          // sessions stepped together (1 for a chunk)
  bool first_in_batch = false; // one outcome per batch carries the batch's figures
};

class StepBatcher {
 public:
  struct Options {
    int workers = 1;
    int max_batch = 64;
    absl::Duration max_delay = absl::ZeroDuration();
    int64_t max_queue = 100'000;  // pending requests
    // A request of at most this many steps, submitted while no other is in
    // flight (queued, computing or being answered) and few were lately, is
    // computed on the submitting thread (no hand-off; `done` runs there
    // too). A load that forms batches has many in flight, so inline runs do
    // not split its batches. Longer chunks always go to the workers, so
    // a gRPC thread is never held long. 0: never inline; nor with a
    // max_delay, which asks a lone step to wait for company.
    int inline_max_steps = 16;
  };
  // Runs exactly once, with the outcome or the error (see Submit).
  using Done = absl::AnyInvocable<void(absl::StatusOr<StepOutcome>) &&>;

  explicit StepBatcher(const Options& options);
  ~StepBatcher();  // Shutdown().
  StepBatcher(const StepBatcher&) = delete;
  StepBatcher& operator=(const StepBatcher&) = delete;

  // Queues `input` for `session` (bound to `model` when submitted: if the
  // session is restarted with another model first, the step fails with
  // FAILED_PRECONDITION). The answer's rows (input.steps, or 1 with
  // `last_only`) x model->output_size() floats are written to `outputs`
  // (the response message's field, which the caller keeps until `done`;
  // no copy per job). `done` runs exactly once: with the outcome or the
  // error on a worker thread; or before Submit returns, on the calling
  // thread, when the step is refused (UNAVAILABLE after Shutdown(),
  // RESOURCE_EXHAUSTED when max_queue requests are pending) or computed
  // inline (Options::inline_max_steps). So the caller must hold no lock that
  // `done` takes; a Submit from an inline step's `done` queues. A step whose
  // `deadline` passed in the queue is not computed: DEADLINE_EXCEEDED. No
  // allocation once the batcher has served as many steps at once before.
  void Submit(SessionPtr session, std::shared_ptr<const model::LayerStack> model,
              StepInputData input, bool last_only, float* outputs, absl::Time deadline, Done done);

  // Refuses new steps, finishes every queued one, joins the workers, waits
  // for steps computing inline.
  void Shutdown();

  int64_t pending() const;

  // Drops the queue of `model`, a version being freed, if it is empty (it
  // is: its sessions are gone). Queues are kept while empty, so without this
  // every version ever served would keep one.
  void ForgetModel(const model::LayerStack* model) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Job;
  struct Batch;
  struct InlineSlot;  // a Batch and a Workspace for the step computed inline
  // One model version's runnable jobs, a min-heap by arrival (Job::seq):
  // each the oldest pending job of a session no batch holds, so any of them
  // may run now, beside any other. A vector, kept while empty, so a queue
  // that has held as many jobs before allocates nothing.
  using ModelQueue = std::vector<std::unique_ptr<Job>>;
  // A session with jobs pending or a batch holding it. Its oldest pending
  // job is in its model's queue unless `busy`; the others wait here, in
  // order, until the one before them is done.
  struct SessionLine {
    bool busy = false;
    std::vector<std::unique_ptr<Job>> waiting;  // few: a vector allocates only when used
  };

  void WorkerLoop();
  // Takes the model queue whose front is the oldest runnable job, and up to
  // max_batch jobs from its front (fewer when their steps would pass the
  // rows a batch computes at once), longest first. The jobs of the batch
  // before, answered and cleared, go back to the free list first. False
  // once shut down and empty; true with no jobs when another worker took
  // them meanwhile.
  bool TakeBatch(Batch& batch);
  // A cleared Job from the free list, or a new one.
  std::unique_ptr<Job> NewJob() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Recycle(std::unique_ptr<Job> job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Enqueue(std::unique_ptr<Job> job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MakeRunnable(std::unique_ptr<Job> job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const model::LayerStack* OldestQueue() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The batch is done computing: its sessions are free again (their next
  // jobs become runnable).
  void Release(const Batch& batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Checks, computes and answers the batch's jobs into batch.results; their
  // `done`s are the caller's to run, after Release.
  void RunBatch(Batch& batch, model::Workspace& workspace);
  // RunBatch, Release, then each job's `done` (the jobs cleared after): what
  // a worker does with a batch it took and an inline run with its one job.
  void ComputeAndAnswer(Batch& batch, model::Workspace& workspace) ABSL_LOCKS_EXCLUDED(mu_);
  // The answered batch's jobs are no longer in flight: to the free list.
  void Retire(Batch& batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether `job` may be computed on the submitting thread now: short, no
  // max_delay, no other request in flight (so none from an inline `done`)
  // nor many lately.
  bool CanRunInline(const Job& job) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RunInline(std::unique_ptr<InlineSlot> slot) ABSL_LOCKS_EXCLUDED(mu_);
  static absl::Status BeginJob(Job& job, absl::Time start, float*& state);
  static int64_t EndJob(Job& job, bool computed);
  static absl::Status Compute(Batch& batch, model::Workspace& workspace);
  // Where the inputs are handed to the engine and the answers written to
  // the responses (kept apart from the scheduling so either can change alone).
  static void GatherRows(Batch& batch);
  static void AnswerRows(const Batch& batch, int64_t index, int64_t width);

  const Options options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<const model::LayerStack*, ModelQueue> queues_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<const Session*, SessionLine> lines_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t runnable_ ABSL_GUARDED_BY(mu_) = 0;  // jobs in queues_
  int64_t pending_ ABSL_GUARDED_BY(mu_) = 0;   // jobs not taken yet (queued or waiting)
  // Requests from Submit until their `done` has returned: inline runs only
  // when there is none, so never beside a batch, nor from a `done`.
  int64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  // The others in flight when a request is submitted, a moving average.
  double recent_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  // The batch and workspace of inline runs (one at a time), while none runs.
  std::unique_ptr<InlineSlot> inline_slot_ ABSL_GUARDED_BY(mu_);
  // Cleared jobs for the next Submits, at most kFreeJobs.
  std::vector<std::unique_ptr<Job>> free_jobs_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_STEP_BATCHER_H_
