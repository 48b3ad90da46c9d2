#include "server/cluster/redis_connection.h"

#include <hiredis/hiredis.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace rnnserve::cluster {
namespace {

timeval TimeoutTimeval(absl::Duration duration) {
  return absl::ToTimeval(std::max(duration, absl::Milliseconds(1)));
}

RedisReply CopyReply(const redisReply& reply) {
  RedisReply copy;
  switch (reply.type) {
    case REDIS_REPLY_STRING:
      copy.type = RedisReply::Type::kString;
      copy.str.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_STATUS:
      copy.type = RedisReply::Type::kStatus;
      copy.str.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_ERROR:
      copy.type = RedisReply::Type::kError;
      copy.str.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_INTEGER:
      copy.type = RedisReply::Type::kInteger;
      copy.integer = reply.integer;
      break;
    case REDIS_REPLY_ARRAY:
      copy.type = RedisReply::Type::kArray;
      copy.elements.reserve(reply.elements);
      for (size_t i = 0; i < reply.elements; ++i)
        copy.elements.push_back(CopyReply(*reply.element[i]));
      break;
    default:  // REDIS_REPLY_NIL; hiredis 0.14 speaks RESP2 only.
      copy.type = RedisReply::Type::kNil;
      break;
  }
  return copy;
}

// The status of a reply to a command sent while connecting.
absl::Status ConnectReplyStatus(const RedisReply& reply, absl::string_view command,
                                absl::string_view where) {
  if (reply.type != RedisReply::Type::kError) return absl::OkStatus();
  const std::string message = absl::StrCat(where, " refused ", command, ": ", reply.str);
  // NOAUTH: a password is required; WRONGPASS / ERR ... AUTH: a wrong one, or
  // a password given to a Redis that has none: either way the credentials.
  if (command == "AUTH" || absl::StartsWith(reply.str, "NOAUTH") ||
      absl::StartsWith(reply.str, "WRONGPASS")) {
    return absl::UnauthenticatedError(message);
  }
  return absl::UnavailableError(message);
}

}  // namespace

absl::StatusOr<std::unique_ptr<RedisConnection>> RedisConnection::Connect(
    const RedisOptions& options) {
  const std::string where = absl::StrCat("redis ", options.address.host, ":", options.address.port);
  redisContext* context = redisConnectWithTimeout(
      options.address.host.c_str(), options.address.port, TimeoutTimeval(options.connect_timeout));
  if (context == nullptr) return absl::UnavailableError(absl::StrCat(where, ": out of memory"));
  if (context->err != 0) {
    const std::string why = context->errstr;
    redisFree(context);
    return absl::UnavailableError(absl::StrCat("cannot connect to ", where, ": ", why));
  }
  std::unique_ptr<RedisConnection> connection(new RedisConnection(context, where));
  if (redisSetTimeout(context, TimeoutTimeval(options.command_timeout)) != REDIS_OK) {
    return connection->IoError("setting the command timeout");
  }
  const std::string db = absl::StrCat(options.address.db);
  std::vector<RedisCommand> commands;
  std::vector<absl::string_view> names;
  if (!options.password.empty()) {
    commands.push_back({"AUTH", options.password});
    names.push_back("AUTH");
  }
  if (options.address.db != 0) {
    commands.push_back({"SELECT", db});
    names.push_back("SELECT");
  }
  if (commands.empty()) {
    commands.push_back({"PING"});
    names.push_back("PING");
  }
  absl::StatusOr<std::vector<RedisReply>> replies = connection->Pipeline(commands);
  if (!replies.ok()) return replies.status();
  for (size_t i = 0; i < replies->size(); ++i) {
    absl::Status status = ConnectReplyStatus((*replies)[i], names[i], where);
    if (!status.ok()) return status;
  }
  return connection;
}

RedisConnection::~RedisConnection() { redisFree(context_); }

absl::Status RedisConnection::IoError(absl::string_view doing) {
  broken_ = true;
  // hiredis reports a send or receive timeout as an I/O error with
  // strerror(EAGAIN) as its text.
  const bool timed_out = context_->err == REDIS_ERR_IO &&
                         absl::StrContains(context_->errstr, "Resource temporarily unavailable");
  return absl::UnavailableError(
      absl::StrCat(where_, ": ", doing, ": ", timed_out ? "timed out" : context_->errstr));
}

absl::StatusOr<std::vector<RedisReply>> RedisConnection::Pipeline(
    absl::Span<const RedisCommand> commands) {
  if (broken_) return absl::UnavailableError(absl::StrCat(where_, ": connection broken earlier"));
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const RedisCommand& command : commands) {
    argv.clear();
    lengths.clear();
    for (absl::string_view arg : command) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    // Only buffers the command; redisGetReply below sends the whole buffer.
    if (redisAppendCommandArgv(context_, static_cast<int>(argv.size()), argv.data(),
                               lengths.data()) != REDIS_OK) {
      return IoError("buffering a command");
    }
  }
  std::vector<RedisReply> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) {
      return IoError(absl::StrCat("reply ", i + 1, " of ", commands.size()));
    }
    std::unique_ptr<redisReply, void (*)(void*)> reply(static_cast<redisReply*>(raw),
                                                       freeReplyObject);
    replies.push_back(CopyReply(*reply));
  }
  return replies;
}

absl::StatusOr<RedisReply> RedisConnection::Command(const RedisCommand& command) {
  absl::StatusOr<std::vector<RedisReply>> replies = Pipeline({&command, 1});
  if (!replies.ok()) return replies.status();
  return std::move(replies->front());
}

bool RedisConnection::LooksAlive() const {
  if (broken_) return false;
  char byte;
  const ssize_t got = recv(context_->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  // Nothing to read is the healthy case; 0 is the peer's FIN; bytes nobody
  // asked for would answer the next command wrongly.
  return got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace rnnserve::cluster
