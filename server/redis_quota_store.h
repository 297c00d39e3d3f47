// RedisQuotaStore: the callers' token buckets in Redis
// (--quota-store=redis://HOST:PORT[/DB], the same Redis as dedup can be), so
// every replica takes from one bucket per caller: a caller spread over ten
// replicas gets its quota, not ten times it.
//
// One round trip per request: a Lua script refills the bucket on Redis's
// clock, takes the request's events or says how long until it could, and
// keeps the bucket only as long as it takes to fill again (an idle caller
// costs nothing). Key: "feed-ingest:quota:" caller; a hash of tokens and the
// time they were counted, in microseconds.
//
//   RedisQuotaStore store(*ParseRedisUrl(url), &errors);
//   absl::StatusOr<absl::Duration> wait = store.Take("serverpod", spec, 500);
//
// When Redis cannot be reached Take() returns UNAVAILABLE, counts it in
// `errors` and logs it (at most every 10 s); the quota stage then lets the
// request through rather than stop every caller.
//
// Thread-safe: RedisClient pools its connections.
#ifndef FEED_INGEST_SERVER_REDIS_QUOTA_STORE_H_
#define FEED_INGEST_SERVER_REDIS_QUOTA_STORE_H_

#include <atomic>
#include <cstdint>

#include "prometheus/counter.h"
#include "quotas.h"
#include "redis_client.h"

namespace feed_ingest {

class RedisQuotaStore final : public QuotaStore {
 public:
  static constexpr absl::Duration kTimeout = absl::Milliseconds(100);

  // `errors` (feed_ingest_quota_store_errors_total) must outlive the store.
  RedisQuotaStore(RedisAddress address, prometheus::Counter* errors)
      : redis_(std::move(address), kTimeout), errors_(errors) {}

  absl::Status Ping() { return redis_.Ping(); }

  // QuotaStore
  absl::StatusOr<absl::Duration> Take(absl::string_view caller, const QuotaSpec& spec,
                                      uint32_t n) override;

 private:
  RedisClient redis_;
  prometheus::Counter* const errors_;
  std::atomic<int64_t> last_logged_ns_{0};
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_REDIS_QUOTA_STORE_H_
