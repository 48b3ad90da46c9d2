#include "server/step_batcher.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "server/session_position.h"
#include "util/status_macros.h"

namespace rnnserve::server {

struct StepBatcher::Job {
  SessionPtr session;
  std::shared_ptr<const model::LayerStack> model;
  StepInputData input;
  bool last_only = false;
  float* outputs = nullptr;  // Not owned: the answer's rows, the submitter's.
  absl::Time deadline;
  absl::Time enqueued;
  Done done;
  uint64_t seq = 0;  // arrival order

  // Lets go of what the job held (its session, model and callback) before
  // it waits on the free list.
  void Clear() {
    session = SessionPtr();
    model.reset();
    input = StepInputData();
    done = nullptr;
  }
};

namespace {

// Jobs kept for reuse: a few batches' worth, so a steady load allocates none.
constexpr size_t kFreeJobs = 1024;
// Inline runs need a load of lone requests: on average (an exponential
// moving average over about the last 1 / kRecentWeight requests) fewer than
// this many others in flight when one is submitted. A load that forms
// batches (many in flight) never runs inline, even at the moments its
// batcher is idle, which on a busy core are exactly when its next requests
// arrive.
constexpr double kRecentWeight = 1.0 / 16;
constexpr double kInlineBelowRecentInFlight = 0.5;
// A model queue that once held more than this is freed when it empties.
constexpr size_t kKeptQueueCapacity = 4096;

// The min-heap order of a ModelQueue: the oldest job at the front.
constexpr auto kArrivedLater = [](const auto& a, const auto& b) { return a->seq > b->seq; };

}  // namespace

// One worker's batch and the scratch it steps it with. A worker reuses its
// Batch, so the vectors keep their capacity: no allocation per batch.
struct StepBatcher::Batch {
  std::vector<std::unique_ptr<Job>> jobs;
  std::vector<Job*> live;          // the jobs that will be computed
  std::vector<float*> states;      // live[i]'s state
  std::vector<int> lengths;        // live[i]'s steps, non-increasing
  std::vector<model::CheckedInput> parts;  // live[i]'s rows, in its request
  std::vector<float> outputs;  // a batch's packed outputs, or a lone last_only chunk's pieces
  std::vector<absl::StatusOr<StepOutcome>> results;  // jobs[i]'s answer
};

// Reused by the submitting threads that compute inline; what it keeps is
// bounded by Options::inline_max_steps rows.
struct StepBatcher::InlineSlot {
  Batch batch;
  model::Workspace workspace;
};

namespace {

// Whether the client's count of the session's steps is the session's
// (server/session_position.h). A session that came back from a checkpoint
// takes its first step only from a client that says it knows where the
// session stands: anything else would apply the step after a gap.
absl::Status CheckPosition(Session& session, const StepInputData& input)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mu()) {
  const int64_t steps = session.step_count();
  if (session.restored_behind()) {
    session.set_restored_behind(false);
    if (input.expected_session_steps != steps) {
      return SessionStandsAtError(
          absl::StrCat("session \"", session.id(), "\" came back from a checkpoint at ", steps,
                       " steps; the steps after it were lost: send them again, the first with "
                       "expected_session_steps = ",
                       steps),
          steps);
    }
  }
  if (input.expected_session_steps.has_value() && *input.expected_session_steps != steps) {
    return SessionStandsAtError(
        absl::StrCat("session \"", session.id(), "\" stands at ", steps, " steps, not the ",
                     *input.expected_session_steps, " this request expects; nothing was applied"),
        steps);
  }
  return absl::OkStatus();
}

// Steps one session through a chunk kPieceRows at a time, so what a worker
// keeps between requests (its workspace, which grows with the rows of one
// StepChunk, and `scratch`) stays bounded by the piece, whatever the chunk
// (issue 20: one 2^20-step chunk once grew a worker by 1.6 GB for good).
// Every step's outputs go straight into `answer` (rows x output_size(), or
// one row with `last_only`: the pieces then go through `scratch` and only
// the last row is kept). The input was
// checked whole at the edge, so no piece fails after another was applied.
constexpr int64_t kPieceRows = 4096;

absl::Status StepChunkInPieces(const model::LayerStack& model, float* state,
                               const StepInputData& input, bool last_only,
                               std::vector<float>& scratch, float* answer,
                               model::Workspace& workspace) {
  const int64_t width = model.output_size();
  if (last_only) scratch.resize(std::min(input.steps, kPieceRows) * width);
  for (int64_t first = 0; first < input.steps; first += kPieceRows) {
    const int64_t rows = std::min(kPieceRows, input.steps - first);
    float* out = last_only ? scratch.data() : answer + first * width;
    absl::Status status = model.StepChunk(state, input.rows.Rows(first, rows), out, workspace);
    if (!status.ok()) return status;
    if (last_only && first + rows == input.steps) {
      std::copy_n(out + (rows - 1) * width, width, answer);
    }
  }
  return absl::OkStatus();
}

}  // namespace

// The live jobs' lengths (longest first) and rows, as StepChunks takes them:
// the engine gathers the rows from the requests into its workspace.
void StepBatcher::GatherRows(Batch& batch) {
  batch.lengths.clear();
  batch.parts.clear();
  for (const Job* job : batch.live) {
    batch.lengths.push_back(static_cast<int>(job->input.steps));
    batch.parts.push_back(job->input.rows);
  }
}

// The answer of the batch's live job number `index` into its response: its
// rows of the packed outputs, every step's or the last one with last_only.
// A lone job's chunk was computed in place.
void StepBatcher::AnswerRows(const Batch& batch, int64_t index, int64_t width) {
  if (batch.live.size() == 1) return;
  const Job& job = *batch.live[index];
  const int steps = batch.lengths[index];
  int64_t row = 0;  // the first packed row of step t
  for (int t = 0; t < steps; ++t) {
    if (!job.last_only || t + 1 == steps) {
      std::copy_n(batch.outputs.data() + (row + index) * width, width,
                  job.outputs + (job.last_only ? 0 : t) * width);
    }
    row += std::partition_point(batch.lengths.begin(), batch.lengths.end(),
                                [t](int n) { return n > t; }) -
           batch.lengths.begin();
  }
}

StepBatcher::StepBatcher(const Options& options) : options_(options) {
  CHECK_GT(options_.workers, 0);
  CHECK_GT(options_.max_batch, 0);
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

StepBatcher::~StepBatcher() { Shutdown(); }

bool StepBatcher::CanRunInline(const Job& job) const {
  // With max_delay a lone step waits for company instead.
  return options_.max_delay == absl::ZeroDuration() &&
         job.input.steps <= options_.inline_max_steps && in_flight_ == 0 &&
         recent_in_flight_ < kInlineBelowRecentInFlight;
}

std::unique_ptr<StepBatcher::Job> StepBatcher::NewJob() {
  if (free_jobs_.empty()) return std::make_unique<Job>();
  std::unique_ptr<Job> job = std::move(free_jobs_.back());
  free_jobs_.pop_back();
  return job;
}

void StepBatcher::Recycle(std::unique_ptr<Job> job) {
  if (free_jobs_.size() < kFreeJobs) free_jobs_.push_back(std::move(job));
}

// The job is computed and answered here as a worker would a batch of one.
void StepBatcher::RunInline(std::unique_ptr<InlineSlot> slot) {
  ComputeAndAnswer(slot->batch, slot->workspace);
  absl::MutexLock lock(&mu_);
  Retire(slot->batch);
  // No other inline run started meanwhile: this request was in flight.
  inline_slot_ = std::move(slot);
}

void StepBatcher::Submit(SessionPtr session,
                         std::shared_ptr<const model::LayerStack> model, StepInputData input,
                         bool last_only, float* outputs, absl::Time deadline, Done done) {
  const absl::Time now = absl::Now();
  absl::Status refused;
  std::unique_ptr<InlineSlot> slot;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      refused = absl::UnavailableError("the server is shutting down");
    } else if (pending_ >= options_.max_queue) {
      refused = absl::ResourceExhaustedError(absl::StrCat(
          "the step queue is full (", options_.max_queue, " requests pending); retry later"));
    } else {
      std::unique_ptr<Job> job = NewJob();
      job->session = std::move(session);
      job->model = std::move(model);
      job->input = std::move(input);
      job->last_only = last_only;
      job->outputs = outputs;
      job->deadline = deadline;
      job->enqueued = now;
      job->done = std::move(done);
      const bool run_inline = CanRunInline(*job);
      recent_in_flight_ += (static_cast<double>(in_flight_) - recent_in_flight_) * kRecentWeight;
      ++in_flight_;
      if (!run_inline) {
        job->seq = next_seq_++;
        Enqueue(std::move(job));
        return;
      }
      // Taken as a worker takes a batch: its session busy. Nothing else is
      // in flight, so the slot is back from the last inline run.
      lines_[job->session.get()].busy = true;
      slot = inline_slot_ != nullptr ? std::move(inline_slot_) : std::make_unique<InlineSlot>();
      slot->batch.jobs.push_back(std::move(job));
    }
  }
  // Outside the lock: `done` may submit again.
  if (!refused.ok()) return std::move(done)(std::move(refused));
  RunInline(std::move(slot));
}

// A session's first pending job is runnable at once; a later one waits in
// its line for the one before it.
void StepBatcher::Enqueue(std::unique_ptr<Job> job) {
  ++pending_;
  auto [line, fresh] = lines_.try_emplace(job->session.get());
  if (!fresh) {
    line->second.waiting.push_back(std::move(job));
    return;
  }
  MakeRunnable(std::move(job));
}

void StepBatcher::MakeRunnable(std::unique_ptr<Job> job) {
  ++runnable_;
  ModelQueue& queue = queues_[job->model.get()];
  queue.push_back(std::move(job));
  std::push_heap(queue.begin(), queue.end(), kArrivedLater);
}

void StepBatcher::ForgetModel(const model::LayerStack* model) {
  absl::MutexLock lock(&mu_);
  const auto it = queues_.find(model);
  if (it != queues_.end() && it->second.empty()) queues_.erase(it);
}

const model::LayerStack* StepBatcher::OldestQueue() const {
  const model::LayerStack* oldest = nullptr;
  uint64_t oldest_seq = 0;
  for (const auto& [model, queue] : queues_) {  // a queue per model version: few
    if (!queue.empty() && (oldest == nullptr || queue.front()->seq < oldest_seq)) {
      oldest = model;
      oldest_seq = queue.front()->seq;
    }
  }
  return oldest;
}

void StepBatcher::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  absl::MutexLock lock(&mu_);
  // The workers have answered theirs: what is left is an inline run.
  auto settled = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return in_flight_ == 0; };
  mu_.Await(absl::Condition(&settled));
}

int64_t StepBatcher::pending() const {
  absl::MutexLock lock(&mu_);
  return pending_;
}

void StepBatcher::WorkerLoop() {
  model::Workspace workspace;
  Batch batch;
  while (TakeBatch(batch)) {
    if (!batch.jobs.empty()) ComputeAndAnswer(batch, workspace);
  }
}

void StepBatcher::ComputeAndAnswer(Batch& batch, model::Workspace& workspace) {
  RunBatch(batch, workspace);
  {
    absl::MutexLock lock(&mu_);
    Release(batch);
  }
  // Outside the lock: a `done` may submit again.
  for (size_t i = 0; i < batch.jobs.size(); ++i) {
    std::move(batch.jobs[i]->done)(std::move(batch.results[i]));
    batch.jobs[i]->Clear();
  }
}

void StepBatcher::Retire(Batch& batch) {
  in_flight_ -= static_cast<int64_t>(batch.jobs.size());
  for (std::unique_ptr<Job>& answered : batch.jobs) Recycle(std::move(answered));
  batch.jobs.clear();
}

bool StepBatcher::TakeBatch(Batch& batch) {
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return (stopping_ && pending_ == 0) || runnable_ > 0;
  };
  absl::MutexLock lock(&mu_);
  Retire(batch);  // the batch before, answered
  mu_.Await(absl::Condition(&ready));
  if (runnable_ == 0) return false;  // Stopping, and nothing left.
  const model::LayerStack* model = OldestQueue();
  if (options_.max_delay > absl::ZeroDuration() &&
      static_cast<int>(queues_[model].size()) < options_.max_batch) {
    // Let a batch fill for at most max_delay after its oldest step arrived;
    // stop waiting when another worker took the queue meanwhile (the
    // oldest job may then be another model's).
    auto full = [this, model]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      const ModelQueue& queue = queues_[model];
      return stopping_ || queue.empty() || static_cast<int>(queue.size()) >= options_.max_batch;
    };
    mu_.AwaitWithDeadline(absl::Condition(&full),
                          queues_[model].front()->enqueued + options_.max_delay);
    model = OldestQueue();
    if (model == nullptr) return true;  // Another worker took the work meanwhile.
  }
  ModelQueue& jobs = queues_[model];
  // Every queued job is its session's oldest, of a session no batch holds:
  // the front ones run together, up to max_batch of them and kPieceRows
  // rows in all (what one StepChunks computes, and a worker's workspace
  // holds); a longer chunk runs alone, in pieces.
  int64_t rows = 0;
  do {
    rows += jobs.front()->input.steps;
    if (!batch.jobs.empty() && rows > kPieceRows) break;
    std::pop_heap(jobs.begin(), jobs.end(), kArrivedLater);
    lines_[jobs.back()->session.get()].busy = true;
    batch.jobs.push_back(std::move(jobs.back()));
    jobs.pop_back();
  } while (!jobs.empty() && static_cast<int>(batch.jobs.size()) < options_.max_batch);
  if (jobs.empty() && jobs.capacity() > kKeptQueueCapacity) jobs = ModelQueue();
  // Longest first, as StepChunks takes them; in arrival order otherwise.
  std::sort(batch.jobs.begin(), batch.jobs.end(), [](const auto& a, const auto& b) {
    return a->input.steps != b->input.steps ? a->input.steps > b->input.steps : a->seq < b->seq;
  });
  runnable_ -= static_cast<int64_t>(batch.jobs.size());
  pending_ -= static_cast<int64_t>(batch.jobs.size());
  return true;
}

void StepBatcher::Release(const Batch& batch) {
  for (const auto& job : batch.jobs) {
    auto line = lines_.find(job->session.get());
    std::vector<std::unique_ptr<Job>>& waiting = line->second.waiting;
    if (waiting.empty()) {
      lines_.erase(line);
      continue;
    }
    line->second.busy = false;
    std::unique_ptr<Job> next = std::move(waiting.front());
    waiting.erase(waiting.begin());
    MakeRunnable(std::move(next));
  }
}

// Checks `job` against its session and, when it may run, marks the session
// as being stepped (Session::BeginStep): its state is then computed on
// without the session's lock, and readers of the state wait for EndStep.
absl::Status StepBatcher::BeginJob(Job& job, absl::Time start, float*& state) {
  Session& session = *job.session;
  absl::MutexLock lock(&session.mu());
  if (!session.closed().ok()) return session.closed();
  if (job.deadline < start) {
    return absl::DeadlineExceededError("the deadline passed while the step was queued");
  }
  RNN_RETURN_IF_ERROR(CheckPosition(session, job.input));
  if (session.model().stack != job.model) {
    return absl::FailedPreconditionError(
        "the session was restarted with another model before this step ran");
  }
  // The input was checked at the edge (StepInputData holds CheckedInput).
  state = session.BeginStep();
  return absl::OkStatus();
}

// Counts a computed job's steps (when `computed`) and lets readers of the
// session's state go on; returns the session's step count.
int64_t StepBatcher::EndJob(Job& job, bool computed) {
  Session& session = *job.session;
  absl::MutexLock lock(&session.mu());
  if (computed) {
    session.AddSteps(job.input.steps);
    session.AnswerPending();
  }
  session.EndStep();
  return session.step_count();
}

// Steps the live jobs of `batch` (one model, sessions marked as being
// stepped, longest first): a lone job as a chunk in pieces, several as one
// StepChunks (at most kPieceRows rows, TakeBatch saw to it).
absl::Status StepBatcher::Compute(Batch& batch, model::Workspace& workspace) {
  const model::LayerStack& model = *batch.live[0]->model;
  if (batch.live.size() == 1) {
    Job& job = *batch.live[0];
    return StepChunkInPieces(model, batch.states[0], job.input, job.last_only, batch.outputs,
                             job.outputs, workspace);
  }
  GatherRows(batch);
  const int64_t rows = std::accumulate(batch.lengths.begin(), batch.lengths.end(), int64_t{0});
  batch.outputs.resize(rows * model.output_size());
  return model.StepChunks(batch.states, batch.lengths, batch.parts, batch.outputs.data(),
                          workspace);
}

// Checks and marks the batch's sessions (distinct, and busy for every other
// worker), steps them without their locks, counts the steps, writes the
// answers and their outcomes (batch.results).
void StepBatcher::RunBatch(Batch& batch, model::Workspace& workspace) {
  const absl::Time start = absl::Now();
  batch.live.clear();
  batch.states.clear();
  batch.results.clear();
  batch.results.resize(batch.jobs.size());
  for (size_t i = 0; i < batch.jobs.size(); ++i) {
    float* state = nullptr;
    if (absl::Status begun = BeginJob(*batch.jobs[i], start, state); !begun.ok()) {
      batch.results[i] = std::move(begun);
    } else {
      batch.live.push_back(batch.jobs[i].get());
      batch.states.push_back(state);
    }
  }
  const absl::Status status = batch.live.empty() ? absl::OkStatus() : Compute(batch, workspace);
  const absl::Time end = absl::Now();
  for (size_t i = 0, next_live = 0; i < batch.jobs.size(); ++i) {
    Job& job = *batch.jobs[i];
    if (next_live == batch.live.size() || batch.live[next_live] != &job) continue;
    const int64_t index = static_cast<int64_t>(next_live++);
    const int64_t session_steps = EndJob(job, status.ok());
    if (!status.ok()) {
      batch.results[i] = absl::InternalError(absl::StrCat("step failed: ", status.message()));
      continue;
    }
    StepOutcome outcome;
    outcome.rows = job.last_only ? 1 : job.input.steps;
    AnswerRows(batch, index, job.model->output_size());
    outcome.session_steps = session_steps;
    outcome.queue_wait = start - job.enqueued;
    outcome.compute = end - start;
    outcome.batch_size = static_cast<int>(batch.live.size());
    outcome.first_in_batch = &job == batch.live[0];
    batch.results[i] = std::move(outcome);
  }
}

}  // namespace rnnserve::server
