#include "server/step_batcher.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "server/session_position.h"

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
};

// One worker's batch and the scratch it steps it with. A worker reuses its
// Batch, so the vectors keep their capacity: no allocation per batch beyond
// the answers' own output vectors.
struct StepBatcher::Batch {
  std::vector<std::unique_ptr<Job>> jobs;
  std::vector<Session*> sessions;  // in lock (address) order
  std::vector<Job*> live;          // the jobs that will be computed
  std::vector<float*> states;      // live[i]'s state
  std::vector<model::CheckedInput> rows;  // live[i]'s input row
  std::vector<float> outputs;
  std::vector<absl::StatusOr<StepOutcome>> results;  // jobs[i]'s answer
};

namespace {

// How far behind the oldest runnable job a batch looks for partners.
constexpr int kScanFactor = 4;

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

StepBatcher::StepBatcher(const Options& options) : options_(options) {
  CHECK_GT(options_.workers, 0);
  CHECK_GT(options_.max_batch, 0);
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

StepBatcher::~StepBatcher() { Shutdown(); }

void StepBatcher::Submit(SessionPtr session,
                         std::shared_ptr<const model::LayerStack> model, StepInputData input,
                         bool last_only, float* outputs, absl::Time deadline, Done done) {
  absl::Status refused;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      refused = absl::UnavailableError("the server is shutting down");
    } else if (static_cast<int64_t>(queue_.size()) >= options_.max_queue) {
      refused = absl::ResourceExhaustedError(absl::StrCat(
          "the step queue is full (", options_.max_queue, " requests pending); retry later"));
    } else {
      queue_.push_back(
          std::make_unique<Job>(Job{std::move(session), std::move(model), std::move(input),
                                    last_only, outputs, deadline, absl::Now(), std::move(done)}));
      return;
    }
  }
  // Outside the lock: `done` may submit again.
  std::move(done)(std::move(refused));
}

void StepBatcher::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
}

int64_t StepBatcher::pending() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(queue_.size());
}

void StepBatcher::WorkerLoop() {
  model::Workspace workspace;
  Batch batch;
  while (TakeBatch(batch)) RunBatch(batch, workspace);
}

bool StepBatcher::TakeBatch(Batch& batch) {
  batch.jobs.clear();
  auto runnable = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const auto& job : queue_) {
      if (!busy_.contains(job->session.get())) return true;
    }
    return false;
  };
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return (stopping_ && queue_.empty()) || runnable();
  };
  absl::MutexLock lock(&mu_, absl::Condition(&ready));
  if (queue_.empty()) return false;  // Stopping, and nothing left.
  if (options_.max_delay > absl::ZeroDuration() &&
      static_cast<int>(queue_.size()) < options_.max_batch) {
    // Let a batch fill for at most max_delay after its oldest step arrived.
    auto full = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_ || static_cast<int>(queue_.size()) >= options_.max_batch;
    };
    mu_.AwaitWithDeadline(absl::Condition(&full), queue_.front()->enqueued + options_.max_delay);
    if (!runnable()) return true;  // Another worker took the work meanwhile.
  }
  // Sessions passed over or taken: no later job of theirs may be taken now,
  // or it would run before (or beside) an earlier one.
  absl::flat_hash_set<const Session*> blocked;
  const Job* first = nullptr;
  const size_t scan = std::min(queue_.size(), static_cast<size_t>(kScanFactor) *
                                                  options_.max_batch);
  for (size_t i = 0; i < scan && static_cast<int>(batch.jobs.size()) < options_.max_batch;
       ++i) {
    std::unique_ptr<Job>& job = queue_[i];
    const Session* session = job->session.get();
    const bool free = !busy_.contains(session) && !blocked.contains(session);
    blocked.insert(session);
    if (!free) continue;
    if (first == nullptr) {
      first = job.get();
      batch.jobs.push_back(std::move(job));
      if (first->input.steps != 1) break;  // A chunk runs alone.
    } else if (job->model == first->model && job->input.steps == 1) {
      batch.jobs.push_back(std::move(job));
    }
  }
  queue_.erase(std::remove(queue_.begin(), queue_.end(), nullptr), queue_.end());
  for (const auto& job : batch.jobs) busy_.insert(job->session.get());
  return true;
}

// Locks the batch's sessions (distinct, and busy for every other worker),
// steps them, answers.
void StepBatcher::RunBatch(Batch& batch, model::Workspace& workspace)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  // Sessions are locked in address order, one order for every batch, so the
  // lock graph has no cycles (the busy set already keeps batches disjoint).
  std::vector<Session*>& sessions = batch.sessions;
  sessions.clear();
  for (const auto& job : batch.jobs) sessions.push_back(job->session.get());
  std::sort(sessions.begin(), sessions.end());
  for (Session* session : sessions) session->mu().Lock();
  const absl::Time start = absl::Now();
  std::vector<Job*>& live = batch.live;
  live.clear();
  std::vector<absl::StatusOr<StepOutcome>>& results = batch.results;
  results.clear();
  results.resize(batch.jobs.size());
  for (size_t i = 0; i < batch.jobs.size(); ++i) {
    Job& job = *batch.jobs[i];
    if (!job.session->closed().ok()) {
      results[i] = job.session->closed();
    } else if (job.deadline < start) {
      results[i] = absl::DeadlineExceededError("the deadline passed while the step was queued");
    } else if (absl::Status position = CheckPosition(*job.session, job.input); !position.ok()) {
      results[i] = position;
    } else if (job.session->model().stack != job.model) {
      results[i] = absl::FailedPreconditionError(
          "the session was restarted with another model before this step ran");
    } else {
      live.push_back(&job);
    }
  }
  std::vector<float>& outputs = batch.outputs;
  absl::Status status = absl::OkStatus();
  if (!live.empty()) {
    const model::LayerStack& model = *live[0]->model;
    const int64_t width = model.output_size();
    if (live.size() == 1) {
      status = StepChunkInPieces(model, live[0]->session->state(), live[0]->input,
                                 live[0]->last_only, outputs, live[0]->outputs, workspace);
    } else {
      std::vector<float*>& states = batch.states;
      std::vector<model::CheckedInput>& rows = batch.rows;
      states.clear();
      rows.clear();
      for (Job* job : live) {
        states.push_back(job->session->state());
        rows.push_back(job->input.rows);
      }
      outputs.resize(live.size() * width);
      // The engine gathers the rows from the requests into its workspace.
      status = model.StepChunks(states, 1, rows, outputs.data(), workspace);
    }
  }
  const absl::Time end = absl::Now();
  int64_t row = 0;
  for (size_t i = 0, next_live = 0; i < batch.jobs.size(); ++i) {
    Job& job = *batch.jobs[i];
    if (next_live < live.size() && live[next_live] == &job) {
      ++next_live;
      const int64_t width = job.model->output_size();
      const int64_t rows = job.input.steps;
      if (!status.ok()) {
        results[i] = absl::InternalError(absl::StrCat("step failed: ", status.message()));
      } else {
        job.session->AddSteps(rows);
        job.session->AnswerPending();
        StepOutcome outcome;
        outcome.rows = job.last_only ? 1 : rows;
        // A lone job's rows are in place already; a batch's, one each, are
        // in the product's contiguous output.
        if (live.size() > 1) std::copy_n(outputs.data() + row * width, width, job.outputs);
        outcome.session_steps = job.session->step_count();
        outcome.queue_wait = start - job.enqueued;
        outcome.compute = end - start;
        outcome.batch_size = static_cast<int>(live.size());
        outcome.first_in_batch = &job == live[0];
        results[i] = std::move(outcome);
      }
      row += rows;
    }
  }
  for (auto it = sessions.rbegin(); it != sessions.rend(); ++it) (*it)->mu().Unlock();
  {
    absl::MutexLock lock(&mu_);
    for (const auto& job : batch.jobs) busy_.erase(job->session.get());
  }
  for (size_t i = 0; i < batch.jobs.size(); ++i) {
    std::move(batch.jobs[i]->done)(std::move(results[i]));
  }
}

}  // namespace rnnserve::server
