// DedupStore: which (user_id, event_id) keys Kafka already holds, and which
// a request is writing at this moment. The dedup stage (stages/dedup.h) asks
// it once per request and tells it once the request's records have settled.
//
//   std::vector<DedupStore::Outcome> out(items.size());
//   absl::Status s = store.Claim(&batch, items, owner, out.data());
//   ... kNew/kUncertain: claimed, write it; kWritten: a duplicate;
//   ... kInFlight: batch.waiting got the item, settled later ...
//   store.Publish(batch, owner);   // once the claimed records have settled
//   store.Abandon(batch);          // answered early: stop waiting
//
// The memory store (memory_dedup_store.h) lives in the process; the Redis
// store (redis_dedup_store.h) is shared by every replica. Thread-safe: any
// worker, for many requests at once.
#ifndef FEED_INGEST_SERVER_DEDUP_STORE_H_
#define FEED_INGEST_SERVER_DEDUP_STORE_H_

#include <array>
#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "ingest_batch.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace feed_ingest {

// What feed_ingest_dedup_total{result} counts, per item with an event_id.
enum class DedupResult : uint8_t {
  kNew,        // First seen: written.
  kDuplicate,  // Kafka held it: not written again.
  kWaited,     // Another request was writing it: waited for its verdict.
  kUncertain,  // Written with no guarantee it is the first: its last write
               // ended "possibly written", or the store could not be asked.
};
inline constexpr size_t kDedupResultCount = 4;

// The feed_ingest_dedup_* series. Thread-safe, as prometheus-cpp is.
class DedupMetrics {
 public:
  explicit DedupMetrics(prometheus::Registry& registry);

  prometheus::Counter& Result(DedupResult r) { return *results_[static_cast<size_t>(r)]; }
  prometheus::Counter& store_errors() { return store_errors_; }
  prometheus::Gauge& entries() { return entries_; }
  prometheus::Histogram& store_seconds() { return store_seconds_; }

 private:
  std::array<prometheus::Counter*, kDedupResultCount> results_{};
  prometheus::Counter& store_errors_;
  prometheus::Gauge& entries_;
  prometheus::Histogram& store_seconds_;
};

// The key of an item with an event_id: computed once per item, by the dedup
// stage, outside any lock.
DedupKey DedupKeyOf(absl::string_view user_id, absl::string_view event_id);

// The verdict of an item that waited for another request's write of its
// key, from that write's verdict: written is written (a duplicate); a write
// that never went, or failed, leaves the waiting item to be sent again.
Delivery WaiterVerdict(const Delivery& write);

class DedupStore {
 public:
  enum class Outcome : uint8_t {
    kNew,        // Nobody had it: claimed for this request.
    kUncertain,  // Its last write ended "possibly written": claimed again.
    kWritten,    // Kafka holds it: a duplicate.
    kInFlight,   // Another request is writing it: the item now waits, in
                 // batch->waiting, for that write's verdict.
  };

  virtual ~DedupStore() = default;

  // The key of every item in `items` (indices into the batch's request, each
  // key once, every item with an event_id; `keys[i]` is DedupKeyOf() of
  // items[i]), in one step: each is claimed for `owner` (a token unique to
  // the request) or found held. An error (the store cannot be reached)
  // claims nothing and registers no waiter. A waiting item added to
  // batch->waiting carries its key.
  virtual absl::Status Claim(IngestBatch* batch, absl::Span<const uint32_t> items,
                             absl::Span<const DedupKey> keys, uint64_t owner,
                             Outcome* outcomes) = 0;

  // Every claimed record of `batch` has its verdict (or never went: still
  // kPending, a refused request): remembers the written ones for the window,
  // the possibly written ones as uncertain, releases the rest, and settles
  // whoever waits on them with the same verdict.
  virtual void Publish(IngestBatch* batch, uint64_t owner) = 0;

  // The batch is answered before its waiting items settled: they stop
  // waiting and stay kPending. Afterwards nothing settles them.
  virtual void Abandon(IngestBatch* batch) = 0;

  // Keys remembered, for feed_ingest_dedup_entries; -1 when not known.
  virtual int64_t Entries() = 0;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_DEDUP_STORE_H_
