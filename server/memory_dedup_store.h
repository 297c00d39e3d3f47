// MemoryDedupStore: the dedup store inside one process (--dedup-store=memory).
// Remembers a written key for the window, at most `max_entries` of them,
// oldest first out; a key being written holds the requests that wait for it.
//
// One table holds every key, remembered or in flight, so a request's claim
// costs one probe per key, and its publish one more; keys are 128-bit hashes
// (DedupKeyOf()), computed by the dedup stage before the lock. The table is
// sized at the start for max_entries and a quarter more in flight (it only
// grows, and then holds two tables for a moment, when more are in flight
// than that); it and the expiry order are charged to the MemoryBudget's
// dedup pool: BytesFor(max_entries) while it has not grown.
//
//   MemoryDedupStore store(absl::Minutes(10), 1'000'000, &clock, &budget, &metrics);
//
// Thread-safe: one mutex. A request's keys are claimed under it all at once,
// so a request only ever waits for requests that came before it: waits
// cannot form a cycle.
#ifndef FEED_INGEST_SERVER_MEMORY_DEDUP_STORE_H_
#define FEED_INGEST_SERVER_MEMORY_DEDUP_STORE_H_

#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "dedup_store.h"
#include "memory_budget.h"

namespace feed_ingest {

class MemoryDedupStore final : public DedupStore {
 public:
  // What remembering at most `max_entries` keys takes: the table, sized at
  // the start, and the expiry order when full.
  static int64_t BytesFor(int64_t max_entries);

  // `clock`, `budget` and `metrics` (both may be null) must outlive the
  // store.
  MemoryDedupStore(absl::Duration window, int64_t max_entries, const Clock* clock,
                   MemoryBudget* budget, DedupMetrics* metrics = nullptr);

  // DedupStore
  absl::Status Claim(IngestBatch* batch, absl::Span<const uint32_t> items,
                     absl::Span<const DedupKey> keys, uint64_t owner, Outcome* outcomes) override;
  void Publish(IngestBatch* batch, uint64_t owner) override;
  void Abandon(IngestBatch* batch) override;
  int64_t Entries() override;

 private:
  enum State : uint32_t { kInFlight = 0, kWritten = 1, kUncertain = 2 };
  // A key: being written (its owner's low bits), or remembered until
  // `expires_s` (seconds since the store began), as written or as
  // "possibly written".
  struct Entry {
    uint32_t expires_s;
    uint32_t state : 2;
    uint32_t waited : 1;  // In flight, and waiters_ has items waiting for it.
    uint32_t owner : 29;
  };
  static constexpr uint32_t kOwnerMask = (1u << 29) - 1;
  struct Expiry {
    DedupKey key;
    uint32_t expires_s;
  };

  uint32_t NowSeconds() const;
  // Forgets what expired, then the oldest while over max_entries.
  void Trim(uint32_t now_s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Recharge() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Observe(int64_t start_ns) const;

  const uint32_t window_s_;
  const size_t max_entries_;
  const Clock* const clock_;
  const int64_t start_ns_;
  MemoryBudget* const budget_;
  DedupMetrics* const metrics_;

  absl::Mutex mu_;
  absl::flat_hash_map<DedupKey, Entry> table_ ABSL_GUARDED_BY(mu_);
  size_t remembered_ ABSL_GUARDED_BY(mu_) = 0;  // Entries of table_ not in flight.
  // Items of other requests waiting for a key in flight (Entry::waited).
  absl::flat_hash_map<DedupKey, std::vector<IngestBatch::Record*>> waiters_ ABSL_GUARDED_BY(mu_);
  // Remembered keys, oldest first (a key claimed or remembered again leaves
  // a stale place behind: skipped when reached).
  std::deque<Expiry> order_ ABSL_GUARDED_BY(mu_);
  // Until then a key not found may have been forgotten early, to keep
  // max_entries: it is counted uncertain, not new.
  uint32_t overflow_until_s_ ABSL_GUARDED_BY(mu_) = 0;
  size_t charged_capacity_ ABSL_GUARDED_BY(mu_) = 0;
  MemoryCharge table_charge_ ABSL_GUARDED_BY(mu_);                // The table.
  std::vector<MemoryCharge> order_charges_ ABSL_GUARDED_BY(mu_);  // Per block of the order.
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_MEMORY_DEDUP_STORE_H_
