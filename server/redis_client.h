// RedisClient: round trips to one Redis (or a primary with replicas) through
// hiredis, for the stores that share state between replicas (the dedup
// store, the quota buckets).
//
//   auto address = ParseRedisUrl("redis://127.0.0.1:6379/0");
//   RedisClient redis(*address);
//   std::string error;
//   RedisReply r = redis.RoundTrip({"PING"}, &error);   // null: see error
//
// Redis need not be up when the client is made: every round trip connects
// when it has no idle connection, and a pooled connection that died with its
// server (a restart, a failover) is replaced once.
//
// Thread-safe: connections are pooled, one per concurrent round trip.
#ifndef FEED_INGEST_SERVER_REDIS_CLIENT_H_
#define FEED_INGEST_SERVER_REDIS_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

struct redisReply;

namespace feed_ingest {

// redis://HOST:PORT[/DB].
struct RedisAddress {
  std::string host;
  int port = 6379;
  int db = 0;
  std::string ToString() const;
};
absl::StatusOr<RedisAddress> ParseRedisUrl(absl::string_view url);

struct RedisReplyDeleter {  // hiredis's replies.
  void operator()(redisReply* r) const;
};
using RedisReply = std::unique_ptr<redisReply, RedisReplyDeleter>;

class RedisClient {
 public:
  // Connecting, and every command, gives up after `timeout`.
  explicit RedisClient(RedisAddress address, absl::Duration timeout = absl::Milliseconds(250));
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // `args` sent and answered; null with `error` when Redis could not be
  // reached or answered an error.
  RedisReply RoundTrip(const std::vector<std::string>& args, std::string* error);
  // One PING: whether Redis answers now.
  absl::Status Ping();

  const RedisAddress& address() const { return address_; }

 private:
  class Connection;

  // A pooled connection (*pooled), or a new one; null when Redis cannot be
  // reached.
  std::unique_ptr<Connection> Acquire(bool* pooled);
  void Release(std::unique_ptr<Connection> connection);

  const RedisAddress address_;
  const absl::Duration timeout_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_REDIS_CLIENT_H_
