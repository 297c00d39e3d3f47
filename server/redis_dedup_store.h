// RedisDedupStore: the dedup store shared by every replica
// (--dedup-store=redis://HOST:PORT[/DB]), in Redis 7 through hiredis.
//
// One round trip per request to claim its keys (a Lua script, so a request's
// keys are claimed at once and waits cannot form a cycle), one when its
// records have settled to remember the written ones for the window or
// release the claims. Values: "<owner token>:<lease end>" while a request
// writes the key (the lease is --dedup-claim-ttl on Redis's clock; a claim
// whose lease ended was left by a replica that died mid-write, and is taken
// over as uncertain; the poller renews the leases of a live process's claims
// every third of it), "w" once Kafka holds it, "u" when its write ended
// "possibly written". An item whose key another request holds is settled by
// a poller thread that reads the awaited keys every kPollInterval.
//
//   auto store = RedisDedupStore::Create(address, window, &metrics);
//   ... as DedupStore ...
//   (*store)->Stop();   // settles what still waits, RETRYABLE
//
// Keys: "feed-ingest:dedup:" user_id NUL event_id. One Redis (or a primary
// with replicas), not Redis Cluster: the script's keys may span slots.
//
// Thread-safe: RedisClient pools its connections; waiting items are settled under waits_mu_, as
// Abandon() takes them back; the claims to renew are under held_mu_.
#ifndef FEED_INGEST_SERVER_REDIS_DEDUP_STORE_H_
#define FEED_INGEST_SERVER_REDIS_DEDUP_STORE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dedup_store.h"
#include "redis_client.h"

namespace feed_ingest {

class RedisDedupStore final : public DedupStore {
 public:
  static constexpr absl::Duration kTimeout = absl::Milliseconds(250);
  static constexpr absl::Duration kPollInterval = absl::Milliseconds(5);
  static constexpr absl::Duration kEntriesInterval = absl::Seconds(5);

  // Starts the poller. Redis need not be up yet: every round trip connects
  // when it has no connection. `metrics` must outlive the store.
  RedisDedupStore(RedisAddress address, absl::Duration window, absl::Duration claim_ttl,
                  DedupMetrics* metrics);
  ~RedisDedupStore() override;
  RedisDedupStore(const RedisDedupStore&) = delete;
  RedisDedupStore& operator=(const RedisDedupStore&) = delete;

  // One PING: whether Redis answers now.
  absl::Status Ping() { return redis_.Ping(); }

  // Settles every item still waiting RETRYABLE, and stops the poller.
  void Stop();

  // DedupStore
  absl::Status Claim(IngestBatch* batch, absl::Span<const uint32_t> items,
                     absl::Span<const DedupKey> keys, uint64_t owner, Outcome* outcomes) override;
  void Publish(IngestBatch* batch, uint64_t owner) override;
  void Abandon(IngestBatch* batch) override;
  int64_t Entries() override { return entries_.load(std::memory_order_relaxed); }

 private:
  struct Wait {
    std::string key;
    absl::Time read;  // When Redis last answered for it (at first: when it began).
  };
  struct Held {  // A request's claimed keys, until it publishes them.
    std::vector<std::string> keys;
    absl::Time renewed;
  };

  static std::string KeyOf(const wire::Interaction& item);
  std::string OwnerToken(uint64_t owner) const;
  void Poll();
  // Renews the lease of the claims this process holds a third of the way
  // into it, so a request in flight longer than --dedup-claim-ttl (a stream
  // waiting for room, a slow Kafka) keeps its keys.
  void Renew();
  void PollLoop();

  RedisClient redis_;
  const int64_t window_ms_;
  const absl::Duration claim_ttl_;
  const int64_t claim_ttl_ms_;
  DedupMetrics* const metrics_;
  const std::string instance_;  // Tells this process's owner tokens apart.

  absl::Mutex waits_mu_;
  absl::flat_hash_map<IngestBatch::Record*, Wait> waits_ ABSL_GUARDED_BY(waits_mu_);
  bool stopped_ ABSL_GUARDED_BY(waits_mu_) = false;

  absl::Mutex held_mu_;
  absl::flat_hash_map<uint64_t, Held> held_ ABSL_GUARDED_BY(held_mu_);  // By owner.

  std::atomic<int64_t> entries_{0};
  std::thread poller_;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_REDIS_DEDUP_STORE_H_
