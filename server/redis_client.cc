#include "redis_client.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace feed_ingest {

void RedisReplyDeleter::operator()(redisReply* r) const { freeReplyObject(r); }

RedisClient::RedisClient(RedisAddress address, absl::Duration timeout)
    : address_(std::move(address)), timeout_(timeout) {}

RedisClient::~RedisClient() = default;

std::string RedisAddress::ToString() const {
  return absl::StrCat("redis://", host, ":", port, "/", db);
}

absl::StatusOr<RedisAddress> ParseRedisUrl(absl::string_view url) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", url, "\" is not redis://HOST:PORT[/DB]: ", why));
  };
  if (!absl::ConsumePrefix(&url, "redis://")) return bad("it must start with redis://");
  RedisAddress a;
  absl::string_view hostport = url;
  if (const size_t slash = url.find('/'); slash != absl::string_view::npos) {
    hostport = url.substr(0, slash);
    if (!absl::SimpleAtoi(url.substr(slash + 1), &a.db) || a.db < 0 || a.db > 15) {
      return bad("DB must be a number from 0 to 15");
    }
  }
  const size_t colon = hostport.rfind(':');
  if (colon == absl::string_view::npos) return bad("no port");
  a.host = std::string(hostport.substr(0, colon));
  if (a.host.empty()) return bad("no host");
  if (!absl::SimpleAtoi(hostport.substr(colon + 1), &a.port) || a.port <= 0 || a.port > 65535) {
    return bad("the port must be from 1 to 65535");
  }
  return a;
}

// One hiredis connection: one command at a time, on one thread at a time.
class RedisClient::Connection {
 public:
  explicit Connection(redisContext* c) : c_(c) {}
  ~Connection() { redisFree(c_); }

  // Sends `args` and reads the reply; null when the connection failed (it
  // is then dropped) or Redis answered with an error.
  RedisReply Command(const std::vector<std::string>& args, std::string* error) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (const std::string& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    void* raw = redisCommandArgv(c_, static_cast<int>(args.size()), argv.data(), lens.data());
    RedisReply reply(static_cast<redisReply*>(raw));
    if (reply == nullptr) {
      *error = c_->errstr[0] != '\0' ? c_->errstr : "no reply";
      broken_ = true;
      return nullptr;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
      *error = std::string(reply->str, reply->len);
      // A replica after a failover, or a server still loading: the next
      // connection finds the primary that took over.
      const absl::string_view e(*error);
      broken_ = absl::StartsWith(e, "READONLY") || absl::StartsWith(e, "LOADING") ||
                absl::StartsWith(e, "MASTERDOWN");
      return nullptr;
    }
    return reply;
  }
  bool broken() const { return broken_; }

 private:
  redisContext* const c_;
  bool broken_ = false;
};

std::unique_ptr<RedisClient::Connection> RedisClient::Acquire(bool* pooled) {
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      *pooled = true;
      return c;
    }
  }
  *pooled = false;
  redisContext* c =
      redisConnectWithTimeout(address_.host.c_str(), address_.port, absl::ToTimeval(timeout_));
  if (c == nullptr || c->err != 0) {
    if (c != nullptr) redisFree(c);
    return nullptr;
  }
  redisSetTimeout(c, absl::ToTimeval(timeout_));
  auto connection = std::make_unique<Connection>(c);
  if (address_.db != 0) {
    std::string error;
    if (connection->Command({"SELECT", absl::StrCat(address_.db)}, &error) == nullptr) {
      return nullptr;
    }
  }
  return connection;
}

void RedisClient::Release(std::unique_ptr<Connection> connection) {
  if (connection == nullptr || connection->broken()) return;
  absl::MutexLock lock(&mu_);
  idle_.push_back(std::move(connection));
}

RedisReply RedisClient::RoundTrip(const std::vector<std::string>& args, std::string* error) {
  // A pooled connection may have died with the server it spoke to (a restart,
  // a failover): then once more, on a new one.
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool pooled = false;
    auto c = Acquire(&pooled);
    if (c == nullptr) {
      *error = absl::StrCat("cannot connect to ", address_.ToString());
      return nullptr;
    }
    RedisReply reply = c->Command(args, error);
    const bool broken = c->broken();
    Release(std::move(c));
    if (reply != nullptr || !broken || !pooled) return reply;
  }
  return nullptr;
}

absl::Status RedisClient::Ping() {
  std::string error;
  RedisReply r = RoundTrip({"PING"}, &error);
  if (r == nullptr) return absl::UnavailableError(absl::StrCat(address_.ToString(), ": ", error));
  return absl::OkStatus();
}

}  // namespace feed_ingest
