#include "server/cluster/session_directory.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "util/status_macros.h"

namespace rnnserve::cluster {
namespace {

// The record header must end within this many bytes: the scripts read only
// that much of a record when its checkpoint does not matter to them.
constexpr size_t kMaxHeaderBytes = 512;
constexpr size_t kMaxOwnerBytes = 255;
// Lua numbers are doubles: every integer in a header stays exact below 10^15.
constexpr size_t kMaxNumberDigits = 15;
constexpr int64_t kMaxNumber = 999'999'999'999'999;

// Shared by every script (prepended to each, after the line that sets
// `record_ttl_ms`, RecordTtlLua below). `parse` reads the header
// "<epoch> <steps> <owner>\n" at the start of `v` exactly as ParseRecord
// below does (it must end within kMaxHeaderBytes), raising MALFORMED
// (DATA_LOSS in C++) when there is none; `read_header` does so for a key
// without reading its checkpoint, nil when the key is missing. Redis's Lua
// GET answers false, not nil, for a missing key. `put` writes a record,
// expiring record_ttl_ms after (never when 0).
constexpr char kLuaPrelude[] = R"lua(
local function parse(v)
  local nl = string.find(v, '\n', 1, true)
  local e, s, o
  if nl and nl <= 512 then e, s, o = string.match(string.sub(v, 1, nl - 1), '^([1-9]%d*) (%d+) ([^ ]+)$') end
  if not e or #e > 15 or #s > 15 or (#s > 1 and string.byte(s, 1) == 48) then
    error({err = 'MALFORMED no valid "<epoch> <steps> <owner>" header line'})
  end
  return tonumber(e), tonumber(s), o, nl + 1
end
local function read_header(key)
  local h = redis.call('GETRANGE', key, 0, 511)
  if h == '' and redis.call('EXISTS', key) == 0 then return nil end
  return parse(h)
end
local function header(epoch, steps, owner)
  return string.format('%d %d %s\n', epoch, steps, owner)
end
local function put(key, record)
  if record_ttl_ms > 0 then
    redis.call('SET', key, record, 'PX', record_ttl_ms)
  else
    redis.call('SET', key, record)
  end
end
)lua";

// KEYS[1] record; ARGV me, 'start'|'take', expected epoch or ''. Wins unless
// an expected epoch differs from the record's (0 when missing) or a take
// finds no record. Winning bumps the epoch and makes `me` the owner; a start
// drops the checkpoint (a restarted session has no past), a take keeps it.
// Answers {won 1|0, epoch, previous owner, previous epoch, checkpoint steps,
// checkpoint}: on a loss the record's epoch and owner, its steps, no bytes.
constexpr char kClaimLua[] = R"lua(
local v = redis.call('GET', KEYS[1])
local epoch, steps, owner, body = 0, 0, '', 1
if v then epoch, steps, owner, body = parse(v) end
if (ARGV[3] ~= '' and epoch ~= tonumber(ARGV[3])) or (ARGV[2] == 'take' and not v) then
  return {0, epoch, owner, epoch, steps, ''}
end
local checkpoint_steps, checkpoint = 0, ''
if ARGV[2] == 'take' then checkpoint_steps, checkpoint = steps, string.sub(v, body) end
put(KEYS[1], header(epoch + 1, checkpoint_steps, ARGV[1]) .. checkpoint)
return {1, epoch + 1, owner, epoch, checkpoint_steps, checkpoint}
)lua";

// KEYS the records of a batch; ARGV me, then per record its epoch, steps and
// the whole record to write (its header made by the caller, RecordHeader
// below: Redis only compares and sets, without building a copy of the state
// in Lua). One call for the batch: a call per record cost Redis a third more
// CPU (README Performance, "Session store"). Answers per record 0 written
// (also when the record was missing: Redis came back empty, so it is made
// again), 1 older (same owner and epoch, fewer steps than recorded: nothing
// written), 2 fenced (another owner or epoch), or for an unreadable record
// its error (nothing written; the others still are).
constexpr char kCheckpointLua[] = R"lua(
local outcomes = {}
for i, key in ipairs(KEYS) do
  local epoch_arg, steps_arg = tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i])
  local readable, epoch, steps, owner = pcall(read_header, key)
  local outcome = 0
  if not readable then
    outcome = type(epoch) == 'table' and epoch or {err = tostring(epoch)}
  elseif epoch and (owner ~= ARGV[1] or epoch ~= epoch_arg) then
    outcome = 2
  elseif epoch and steps_arg < steps then
    outcome = 1
  else
    put(key, ARGV[3 * i + 1])
  end
  outcomes[i] = outcome
end
return outcomes
)lua";

// The header line the scripts' `header` writes.
std::string RecordHeader(int64_t epoch, int64_t steps, const std::string& owner) {
  return absl::StrCat(epoch, " ", steps, " ", owner, "\n");
}

// KEYS[1] record; ARGV me, epoch. Deletes the record only when `me` owns it
// at that epoch (a newer owner's record stays). Answers 1 deleted, else 0.
constexpr char kForgetLua[] = R"lua(
local epoch, _, owner = read_header(KEYS[1])
if epoch and owner == ARGV[1] and epoch == tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
)lua";

// KEYS[1] record; ARGV me, epoch. Makes the owner "-" (released: the
// checkpoint is the final state) only when `me` owns it at that epoch.
// Answers 1 released, else 0.
constexpr char kReleaseLua[] = R"lua(
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local epoch, steps, owner, body = parse(v)
if owner ~= ARGV[1] or epoch ~= tonumber(ARGV[2]) then return 0 end
put(KEYS[1], header(epoch, steps, '-') .. string.sub(v, body))
return 1
)lua";

// KEYS[1] record; ARGV new owner, epoch, steps, state. The state a replica
// just handed over to the owner that claimed it at `epoch`, kept as the
// record's checkpoint, so that a new owner that timed out waiting for the
// answer still finds it. Only when the record names that owner and epoch and
// holds no more steps. Answers 1 written, else 0.
constexpr char kHandoverLua[] = R"lua(
local epoch, steps, owner = read_header(KEYS[1])
if not epoch or owner ~= ARGV[1] or epoch ~= tonumber(ARGV[2]) then return 0 end
if tonumber(ARGV[3]) < steps then return 0 end
put(KEYS[1], header(epoch, tonumber(ARGV[3]), owner) .. ARGV[4])
return 1
)lua";

// KEYS[1] fence set. Answers its members and deletes it, atomically, so a
// fence added meanwhile is never lost.
constexpr char kDrainLua[] = R"lua(
local ids = redis.call('SMEMBERS', KEYS[1])
redis.call('DEL', KEYS[1])
return ids
)lua";

absl::Status CheckOwner(const std::string& owner) {
  if (owner.empty() || owner.size() > kMaxOwnerBytes ||
      owner.find_first_of(" \n") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("owner '", owner, "' must be 1..", kMaxOwnerBytes,
                     " bytes without a space or a newline (an advertised HOST:PORT)"));
  }
  return absl::OkStatus();
}

absl::Status CheckId(const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("empty session id");
  return absl::OkStatus();
}

// A header number as the scripts write it: digits, no leading zero.
bool ParseNumber(absl::string_view text, int64_t min, int64_t* value) {
  return !text.empty() && text.size() <= kMaxNumberDigits &&
         text.find_first_not_of("0123456789") == absl::string_view::npos &&
         (text.size() == 1 || text[0] != '0') && absl::SimpleAtoi(text, value) && *value >= min;
}

absl::StatusOr<SessionRecord> ParseRecord(absl::string_view key, absl::string_view value) {
  const auto malformed = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("session record ", key, " is unreadable: ", why));
  };
  const size_t newline = value.find('\n');
  if (newline == absl::string_view::npos || newline >= kMaxHeaderBytes) {
    return malformed("no header line");
  }
  const absl::string_view header = value.substr(0, newline);
  const size_t space1 = header.find(' ');
  const size_t space2 = space1 == absl::string_view::npos ? space1 : header.find(' ', space1 + 1);
  if (space2 == absl::string_view::npos) return malformed("the header has no 3 fields");
  SessionRecord record;
  if (!ParseNumber(header.substr(0, space1), 1, &record.epoch)) {
    return malformed("the epoch is not a number >= 1");
  }
  if (!ParseNumber(header.substr(space1 + 1, space2 - space1 - 1), 0, &record.checkpoint_steps)) {
    return malformed("the checkpoint steps are not a number >= 0");
  }
  record.owner = std::string(header.substr(space2 + 1));
  if (record.owner.empty() || record.owner.find(' ') != std::string::npos) {
    return malformed("the owner is empty or holds a space");
  }
  record.checkpoint = std::string(value.substr(newline + 1));
  return record;
}

// What a Redis error reply means to our callers.
absl::Status ErrorReplyStatus(const RedisReply& reply, absl::string_view key) {
  const std::string& error = reply.str;
  if (absl::StartsWith(error, "MALFORMED") || absl::StartsWith(error, "WRONGTYPE")) {
    return absl::DataLossError(absl::StrCat("session record ", key, " is unreadable: ", error));
  }
  if (absl::StartsWith(error, "NOAUTH") || absl::StartsWith(error, "WRONGPASS")) {
    return absl::UnauthenticatedError(absl::StrCat("redis refused ", key, ": ", error));
  }
  for (const char* transient :
       {"LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN", "OOM", "CLUSTERDOWN"}) {
    if (absl::StartsWith(error, transient)) {
      return absl::UnavailableError(absl::StrCat("redis refused ", key, ": ", error));
    }
  }
  return absl::InternalError(absl::StrCat("redis answered ", key, " with ", error));
}

// The status of `reply` unless it has type `want`.
absl::Status ExpectType(const RedisReply& reply, RedisReply::Type want, absl::string_view key,
                        absl::string_view what) {
  if (reply.type == want) return absl::OkStatus();
  if (reply.type == RedisReply::Type::kError) return ErrorReplyStatus(reply, key);
  return absl::InternalError(absl::StrCat("redis answered ", what, " for ", key,
                                          " with reply type ", static_cast<int>(reply.type),
                                          ", want ", static_cast<int>(want)));
}

absl::StatusOr<ClaimResult> ParseClaimReply(const RedisReply& reply, absl::string_view key) {
  using Type = RedisReply::Type;
  RNN_RETURN_IF_ERROR(ExpectType(reply, Type::kArray, key, "a claim"));
  const std::vector<RedisReply>& e = reply.elements;
  static constexpr Type kWant[] = {Type::kInteger, Type::kInteger, Type::kString,
                                   Type::kInteger, Type::kInteger, Type::kString};
  if (e.size() != std::size(kWant)) {
    return absl::InternalError(
        absl::StrCat("the claim of ", key, " answered ", e.size(), " values, want 6"));
  }
  for (size_t i = 0; i < e.size(); ++i) {
    RNN_RETURN_IF_ERROR(ExpectType(e[i], kWant[i], key, absl::StrCat("claim value ", i + 1)));
  }
  return ClaimResult{.won = e[0].integer == 1,
                     .epoch = e[1].integer,
                     .previous_owner = e[2].str,
                     .previous_epoch = e[3].integer,
                     .checkpoint_steps = e[4].integer,
                     .checkpoint = e[5].str};
}

}  // namespace

// Every script, its prelude led by the record TTL in milliseconds (a
// constant of this directory, so the scripts' arguments stay as they are; a
// replica with another TTL loads scripts of its own).
std::array<std::string, SessionDirectory::kScriptCount> SessionDirectory::Scripts(
    absl::Duration record_ttl) {
  const int64_t ttl_ms = record_ttl == absl::InfiniteDuration()
                             ? 0
                             : std::max<int64_t>(0, absl::ToInt64Milliseconds(record_ttl));
  const std::string prelude = absl::StrCat("local record_ttl_ms = ", ttl_ms, "\n", kLuaPrelude);
  return {absl::StrCat(prelude, kClaimLua),    absl::StrCat(prelude, kCheckpointLua),
          absl::StrCat(prelude, kForgetLua),   absl::StrCat(prelude, kReleaseLua),
          absl::StrCat(prelude, kHandoverLua), absl::StrCat(prelude, kDrainLua)};
}

SessionDirectory::SessionDirectory(RedisPool* pool, std::string prefix, std::string me,
                                   absl::Duration record_ttl)
    : pool_(pool),
      prefix_(std::move(prefix)),
      me_(std::move(me)),
      me_valid_(CheckOwner(me_)),
      scripts_(Scripts(record_ttl)) {}

std::string SessionDirectory::RecordKey(const std::string& id) const {
  return absl::StrCat(prefix_, ":s:", id);
}

absl::StatusOr<std::string> SessionDirectory::ScriptSha(Script script,
                                                        RedisConnection& connection) {
  {
    absl::MutexLock lock(&mu_);
    if (!shas_[script].empty()) return shas_[script];
  }
  RNN_ASSIGN_OR_RETURN(RedisReply reply, connection.Command({"SCRIPT", "LOAD", scripts_[script]}));
  RNN_RETURN_IF_ERROR(ExpectType(reply, RedisReply::Type::kString, "SCRIPT LOAD", "a script SHA1"));
  absl::MutexLock lock(&mu_);
  shas_[script] = reply.str;
  return reply.str;
}

absl::StatusOr<std::vector<RedisReply>> SessionDirectory::RunScript(
    Script script, int keys, absl::Span<const RedisCommand> args) {
  RNN_ASSIGN_OR_RETURN(RedisPool::Lease connection, pool_->Acquire());
  RNN_ASSIGN_OR_RETURN(const std::string sha, ScriptSha(script, *connection));
  const std::string key_count = absl::StrCat(keys);
  std::vector<RedisCommand> commands;
  commands.reserve(args.size());
  for (const RedisCommand& arg : args) {
    RedisCommand& command = commands.emplace_back(RedisCommand{"EVALSHA", sha, key_count});
    command.insert(command.end(), arg.begin(), arg.end());
  }
  RNN_ASSIGN_OR_RETURN(std::vector<RedisReply> replies, connection->Pipeline(commands));
  // NOSCRIPT means the command did not run, so running it again with the
  // script's text is safe; EVAL also caches the script for later EVALSHAs.
  std::vector<size_t> again;
  for (size_t i = 0; i < replies.size(); ++i) {
    if (replies[i].type == RedisReply::Type::kError &&
        absl::StartsWith(replies[i].str, "NOSCRIPT")) {
      commands[i][0] = "EVAL";
      commands[i][1] = scripts_[script];
      again.push_back(i);
    }
  }
  if (again.empty()) return replies;
  std::vector<RedisCommand> retry;
  retry.reserve(again.size());
  for (size_t i : again) retry.push_back(std::move(commands[i]));
  RNN_ASSIGN_OR_RETURN(std::vector<RedisReply> retried, connection->Pipeline(retry));
  for (size_t j = 0; j < again.size(); ++j) replies[again[j]] = std::move(retried[j]);
  return replies;
}

absl::StatusOr<std::optional<SessionRecord>> SessionDirectory::Lookup(const std::string& id) {
  RNN_RETURN_IF_ERROR(CheckId(id));
  const std::string key = RecordKey(id);
  RNN_ASSIGN_OR_RETURN(RedisPool::Lease connection, pool_->Acquire());
  RNN_ASSIGN_OR_RETURN(RedisReply reply, connection->Command({"GET", key}));
  if (reply.type == RedisReply::Type::kNil) return std::nullopt;
  RNN_RETURN_IF_ERROR(ExpectType(reply, RedisReply::Type::kString, key, "a record"));
  RNN_ASSIGN_OR_RETURN(SessionRecord record, ParseRecord(key, reply.str));
  return record;
}

absl::StatusOr<std::optional<SessionRecord>> SessionDirectory::LookupHeader(const std::string& id) {
  RNN_RETURN_IF_ERROR(CheckId(id));
  const std::string key = RecordKey(id);
  RNN_ASSIGN_OR_RETURN(RedisPool::Lease connection, pool_->Acquire());
  // The first kMaxHeaderBytes: the header ends within them, or the record
  // is unreadable (as the scripts' read_header).
  RNN_ASSIGN_OR_RETURN(RedisReply reply, connection->Command({"GETRANGE", key, "0",
                                                              absl::StrCat(kMaxHeaderBytes - 1)}));
  RNN_RETURN_IF_ERROR(ExpectType(reply, RedisReply::Type::kString, key, "a record's header"));
  if (reply.str.empty()) {
    // No record, or an empty (unreadable) one.
    RNN_ASSIGN_OR_RETURN(RedisReply exists, connection->Command({"EXISTS", key}));
    RNN_RETURN_IF_ERROR(ExpectType(exists, RedisReply::Type::kInteger, key, "EXISTS"));
    if (exists.integer == 0) return std::nullopt;
  }
  RNN_ASSIGN_OR_RETURN(SessionRecord record, ParseRecord(key, reply.str));
  record.checkpoint.clear();  // the bytes of it that came with the header
  return record;
}

absl::StatusOr<ClaimResult> SessionDirectory::Claim(const std::string& id, ClaimMode mode,
                                                    std::optional<int64_t> expected_epoch) {
  RNN_RETURN_IF_ERROR(me_valid_);
  RNN_RETURN_IF_ERROR(CheckId(id));
  if (expected_epoch.has_value() && (*expected_epoch < 0 || *expected_epoch > kMaxNumber)) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected epoch ", *expected_epoch, " of ", id, " is out of range"));
  }
  const std::string key = RecordKey(id);
  const std::string expected = expected_epoch.has_value() ? absl::StrCat(*expected_epoch) : "";
  const RedisCommand args = {key, me_, mode == ClaimMode::kStart ? "start" : "take", expected};
  RNN_ASSIGN_OR_RETURN(std::vector<RedisReply> replies, RunScript(kClaimScript, 1, {&args, 1}));
  return ParseClaimReply(replies.front(), key);
}

absl::StatusOr<std::vector<ClaimResult>> SessionDirectory::ClaimStarts(
    absl::Span<const std::string> ids) {
  RNN_RETURN_IF_ERROR(me_valid_);
  std::vector<std::string> keys;  // The views point into it: never moves.
  keys.reserve(ids.size());
  std::vector<RedisCommand> args;
  args.reserve(ids.size());
  for (const std::string& id : ids) {
    RNN_RETURN_IF_ERROR(CheckId(id));
    args.push_back({keys.emplace_back(RecordKey(id)), me_, "start", ""});
  }
  if (args.empty()) return std::vector<ClaimResult>();
  RNN_ASSIGN_OR_RETURN(std::vector<RedisReply> replies, RunScript(kClaimScript, 1, args));
  std::vector<ClaimResult> claims;
  claims.reserve(replies.size());
  for (size_t i = 0; i < replies.size(); ++i) {
    RNN_ASSIGN_OR_RETURN(ClaimResult claim, ParseClaimReply(replies[i], keys[i]));
    claims.push_back(std::move(claim));
  }
  return claims;
}

absl::StatusOr<std::vector<CheckpointOutcome>> SessionDirectory::WriteCheckpoints(
    absl::Span<const Checkpoint> checkpoints) {
  RNN_RETURN_IF_ERROR(me_valid_);
  if (checkpoints.empty()) return std::vector<CheckpointOutcome>();
  // Keys, numbers and records the command's views point into (never moves).
  std::vector<std::string> strings;
  strings.reserve(4 * checkpoints.size());
  RedisCommand command;
  command.reserve(4 * checkpoints.size() + 1);
  for (const Checkpoint& checkpoint : checkpoints) {
    RNN_RETURN_IF_ERROR(CheckId(checkpoint.session_id));
    if (checkpoint.epoch < 1 || checkpoint.epoch > kMaxNumber || checkpoint.steps < 0 ||
        checkpoint.steps > kMaxNumber) {
      return absl::InvalidArgumentError(absl::StrCat(
          "checkpoint of ", checkpoint.session_id, " has epoch ", checkpoint.epoch, " and steps ",
          checkpoint.steps, "; want epoch 1..", kMaxNumber, " and steps 0..", kMaxNumber));
    }
    command.push_back(strings.emplace_back(RecordKey(checkpoint.session_id)));
  }
  command.push_back(me_);
  for (const Checkpoint& checkpoint : checkpoints) {
    command.push_back(strings.emplace_back(absl::StrCat(checkpoint.epoch)));
    command.push_back(strings.emplace_back(absl::StrCat(checkpoint.steps)));
    command.push_back(strings.emplace_back(
        absl::StrCat(RecordHeader(checkpoint.epoch, checkpoint.steps, me_), checkpoint.state)));
  }
  RNN_ASSIGN_OR_RETURN(
      std::vector<RedisReply> replies,
      RunScript(kCheckpointScript, static_cast<int>(checkpoints.size()), {&command, 1}));
  const RedisReply& reply = replies.front();
  RNN_RETURN_IF_ERROR(ExpectType(reply, RedisReply::Type::kArray, "the batch", "checkpoints"));
  if (reply.elements.size() != checkpoints.size()) {
    return absl::InternalError(absl::StrCat("a batch of ", checkpoints.size(),
                                            " checkpoints answered ", reply.elements.size()));
  }
  std::vector<CheckpointOutcome> outcomes;
  outcomes.reserve(checkpoints.size());
  absl::Status first_error;
  for (size_t i = 0; i < checkpoints.size(); ++i) {
    const absl::string_view key = command[i];
    const RedisReply& outcome = reply.elements[i];
    absl::Status status = ExpectType(outcome, RedisReply::Type::kInteger, key, "a checkpoint");
    if (status.ok() && (outcome.integer < 0 || outcome.integer > 2)) {
      status = absl::InternalError(
          absl::StrCat("the checkpoint of ", key, " answered ", outcome.integer));
    }
    if (!status.ok()) {
      if (first_error.ok()) first_error = status;
      continue;
    }
    outcomes.push_back(static_cast<CheckpointOutcome>(outcome.integer));
  }
  if (!first_error.ok()) return first_error;
  return outcomes;
}

absl::Status SessionDirectory::RunPerRecord(
    Script script, absl::Span<const std::pair<std::string, int64_t>> ids_and_epochs,
    const char* what) {
  RNN_RETURN_IF_ERROR(me_valid_);
  if (ids_and_epochs.empty()) return absl::OkStatus();
  std::vector<std::string> strings;
  strings.reserve(2 * ids_and_epochs.size());  // never moves: the views point into it
  std::vector<RedisCommand> args;
  args.reserve(ids_and_epochs.size());
  for (const auto& [id, epoch] : ids_and_epochs) {
    RNN_RETURN_IF_ERROR(CheckId(id));
    const std::string& key = strings.emplace_back(RecordKey(id));
    args.push_back({key, me_, strings.emplace_back(absl::StrCat(epoch))});
  }
  RNN_ASSIGN_OR_RETURN(std::vector<RedisReply> replies, RunScript(script, 1, args));
  for (size_t i = 0; i < replies.size(); ++i) {
    RNN_RETURN_IF_ERROR(ExpectType(replies[i], RedisReply::Type::kInteger, args[i][0], what));
  }
  return absl::OkStatus();
}

absl::Status SessionDirectory::Forget(
    absl::Span<const std::pair<std::string, int64_t>> ids_and_epochs) {
  return RunPerRecord(kForgetScript, ids_and_epochs, "forget");
}

absl::Status SessionDirectory::Release(
    absl::Span<const std::pair<std::string, int64_t>> ids_and_epochs) {
  return RunPerRecord(kReleaseScript, ids_and_epochs, "release");
}

absl::Status SessionDirectory::WriteHandover(const std::string& new_owner,
                                             const Checkpoint& checkpoint) {
  RNN_RETURN_IF_ERROR(CheckOwner(new_owner));
  RNN_RETURN_IF_ERROR(CheckId(checkpoint.session_id));
  const std::string key = RecordKey(checkpoint.session_id);
  const std::string epoch = absl::StrCat(checkpoint.epoch);
  const std::string steps = absl::StrCat(checkpoint.steps);
  const RedisCommand args = {key, new_owner, epoch, steps, checkpoint.state};
  RNN_ASSIGN_OR_RETURN(std::vector<RedisReply> replies, RunScript(kHandoverScript, 1, {&args, 1}));
  return ExpectType(replies.front(), RedisReply::Type::kInteger, key, "a handover");
}

absl::Status SessionDirectory::Fence(const std::string& owner, const std::string& id) {
  RNN_RETURN_IF_ERROR(CheckOwner(owner));
  RNN_RETURN_IF_ERROR(CheckId(id));
  const std::string key = absl::StrCat(prefix_, ":fence:", owner);
  RNN_ASSIGN_OR_RETURN(RedisPool::Lease connection, pool_->Acquire());
  const RedisCommand commands[] = {{"SADD", key, id}, {"EXPIRE", key, "86400"}};
  RNN_ASSIGN_OR_RETURN(std::vector<RedisReply> replies, connection->Pipeline(commands));
  RNN_RETURN_IF_ERROR(ExpectType(replies[0], RedisReply::Type::kInteger, key, "SADD"));
  return ExpectType(replies[1], RedisReply::Type::kInteger, key, "EXPIRE");
}

absl::StatusOr<std::vector<std::string>> SessionDirectory::DrainFences() {
  RNN_RETURN_IF_ERROR(me_valid_);
  const std::string key = absl::StrCat(prefix_, ":fence:", me_);
  const RedisCommand args = {key};
  RNN_ASSIGN_OR_RETURN(std::vector<RedisReply> replies, RunScript(kDrainScript, 1, {&args, 1}));
  RNN_RETURN_IF_ERROR(ExpectType(replies.front(), RedisReply::Type::kArray, key, "the fences"));
  std::vector<std::string> ids;
  ids.reserve(replies.front().elements.size());
  for (RedisReply& member : replies.front().elements) {
    RNN_RETURN_IF_ERROR(ExpectType(member, RedisReply::Type::kString, key, "a fenced id"));
    ids.push_back(std::move(member.str));
  }
  return ids;
}

absl::StatusOr<bool> SessionDirectory::RenewPresence(absl::Duration ttl) {
  RNN_RETURN_IF_ERROR(me_valid_);
  const std::string key = absl::StrCat(prefix_, ":replica:", me_);
  const std::string milliseconds = absl::StrCat(std::max<int64_t>(1, ttl / absl::Milliseconds(1)));
  RNN_ASSIGN_OR_RETURN(RedisPool::Lease connection, pool_->Acquire());
  // SET ... GET (Redis 6.2+): renews, and answers the old value, nil if none.
  RNN_ASSIGN_OR_RETURN(RedisReply reply,
                       connection->Command({"SET", key, "1", "PX", milliseconds, "GET"}));
  if (reply.type == RedisReply::Type::kNil) return false;
  RNN_RETURN_IF_ERROR(ExpectType(reply, RedisReply::Type::kString, key, "SET GET"));
  return true;
}

absl::Status SessionDirectory::Ping() {
  RNN_ASSIGN_OR_RETURN(RedisPool::Lease connection, pool_->Acquire());
  RNN_ASSIGN_OR_RETURN(RedisReply reply, connection->Command({"PING"}));
  RNN_RETURN_IF_ERROR(ExpectType(reply, RedisReply::Type::kStatus, "PING", "PING"));
  if (reply.str != "PONG") {
    return absl::InternalError(absl::StrCat("redis answered PING with ", reply.str));
  }
  return absl::OkStatus();
}

}  // namespace rnnserve::cluster
