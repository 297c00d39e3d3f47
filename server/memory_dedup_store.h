// MemoryDedupStore: the dedup store inside one process (--dedup-store=memory).
// Remembers a written key for the window, at most `max_entries` of them,
// oldest first out; a key being written holds the requests that wait for it.
// Keys are kept as 128-bit hashes of (user_id, event_id): about
// kBytesPerEntry each, charged to the MemoryBudget's dedup pool.
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
  // What one remembered key costs: its slot in the table (key, state,
  // expiry) at the table's load, and its place in the expiry order.
  static constexpr int64_t kBytesPerEntry = 64;

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
  struct Key {
    uint64_t hi;
    uint64_t lo;
    friend bool operator==(const Key& a, const Key& b) { return a.hi == b.hi && a.lo == b.lo; }
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.lo);
    }
  };
  enum class State : uint8_t { kInFlight, kWritten, kUncertain };
  struct Entry {
    int64_t expires_ns;  // kWritten, kUncertain: forgotten from then on.
    uint64_t owner;      // kInFlight: the request writing it.
    State state;
  };
  struct Remembered {
    Key key;
    int64_t expires_ns;
  };

  static Key KeyOf(const wire::Interaction& item);
  // Forgets what expired, then the oldest while over max_entries.
  void Trim(int64_t now_ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Forget(const Remembered& r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Recharge() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int64_t window_ns_;
  const size_t max_entries_;
  const Clock* const clock_;
  MemoryBudget* const budget_;
  DedupMetrics* const metrics_;

  absl::Mutex mu_;
  absl::flat_hash_map<Key, Entry> entries_ ABSL_GUARDED_BY(mu_);
  // Items waiting for keys in flight (records of other batches' `waiting`).
  absl::flat_hash_map<Key, std::vector<IngestBatch::Record*>> waiters_ ABSL_GUARDED_BY(mu_);
  // Written and uncertain keys, oldest first (a key remembered again leaves
  // a stale place behind: it is skipped when reached).
  std::deque<Remembered> order_ ABSL_GUARDED_BY(mu_);
  std::vector<MemoryCharge> charges_ ABSL_GUARDED_BY(mu_);  // One per block of entries.
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_MEMORY_DEDUP_STORE_H_
