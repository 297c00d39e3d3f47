// MemoryDedupStore: the dedup store inside one process (--dedup-store=memory).
// Remembers a written key for the window, at most `max_entries` of them,
// oldest first out; a key being written holds the requests that wait for it.
// Keys are kept as 128-bit hashes of (user_id, event_id). The table of
// remembered keys is sized for max_entries at the start (it never grows,
// so it never holds two tables at once while rehashing); it and the expiry
// order are charged to the MemoryBudget's dedup pool: BytesFor(max_entries)
// at most.
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
#include "wire/ingest_wire.pb.h"

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
  absl::Status Claim(IngestBatch* batch, absl::Span<const uint32_t> items, uint64_t owner,
                     Outcome* outcomes) override;
  void Publish(IngestBatch* batch, uint64_t owner) override;
  void Abandon(IngestBatch* batch) override;
  int64_t Entries() override;

 private:
  struct Key {  // Four words, not two: 4-byte aligned, so table slots stay small.
    uint32_t w[4];
    friend bool operator==(const Key& a, const Key& b) {
      return a.w[0] == b.w[0] && a.w[1] == b.w[1] && a.w[2] == b.w[2] && a.w[3] == b.w[3];
    }
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.w[0], k.w[1]);
    }
  };
  // A remembered key: when it is forgotten (seconds since the store began),
  // and whether its write ended "possibly written".
  struct Remembered {
    uint32_t expires_s : 31;
    uint32_t uncertain : 1;
  };
  struct InFlight {
    uint64_t owner;
    std::vector<IngestBatch::Record*> waiters;  // Other batches' waiting items.
  };
  struct Expiry {
    Key key;
    uint32_t expires_s;
  };

  static Key KeyOf(const wire::Interaction& item);
  uint32_t NowSeconds() const;
  // Forgets what expired, then the oldest while over max_entries.
  void Trim(uint32_t now_s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Recharge() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const uint32_t window_s_;
  const size_t max_entries_;
  const Clock* const clock_;
  const int64_t start_ns_;
  MemoryBudget* const budget_;
  DedupMetrics* const metrics_;

  absl::Mutex mu_;
  absl::flat_hash_map<Key, Remembered> remembered_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Key, InFlight> in_flight_ ABSL_GUARDED_BY(mu_);
  // Remembered keys, oldest first (a key remembered again leaves a stale
  // place behind: skipped when reached).
  std::deque<Expiry> order_ ABSL_GUARDED_BY(mu_);
  // Until then a key not found may have been forgotten early, to keep
  // max_entries: it is counted uncertain, not new.
  uint32_t overflow_until_s_ ABSL_GUARDED_BY(mu_) = 0;
  MemoryCharge table_charge_;                                     // The table, once.
  std::vector<MemoryCharge> order_charges_ ABSL_GUARDED_BY(mu_);  // Per block of the order.
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_MEMORY_DEDUP_STORE_H_
