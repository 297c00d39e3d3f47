// IngestBatch: one request on its way to Kafka, and the verdict for each of
// its items. The round trip it makes is drawn in docs/architecture.md.
//
// A gRPC worker parses the request into the batch (wire/ingest_wire.proto:
// bytes where the contract has string), the stages fill
// `invalid` and `records`, and the submit stage hands the batch to a
// DeliverySink (the Kafka producer thread). The sink settles every record
// with a Delivery; the last Settle() calls the batch's SettleNotifier, which
// brings the batch back to its call on the worker's completion queue.
//
//   IngestBatch batch(notifier);         // notifier: where "settled" goes
//   ... stages fill batch.invalid and batch.records ...
//   batch.Arm();                         // worker, just before the hand-off
//   batch.Settle(&batch.records[0], Delivery::Written());   // producer thread
//   if (batch.IsSettled()) ... read every record's Delivery ...  // worker
//
// Thread rules: the owning worker writes everything before Arm(). The
// producer thread then writes only Record::delivery and the outstanding
// count, and after the last Settle() touches nothing of the batch. A waiting
// item (dedup) is settled the same way by the thread that settles the write
// it waits for, possibly before Arm(), under the dedup store's lock. The worker
// reads the verdicts only after the notifier fired; IsSettled()'s acquire
// load makes the producer's writes visible (the completion queue orders them
// too, but that is invisible to ThreadSanitizer).
#ifndef FEED_INGEST_SERVER_INGEST_BATCH_H_
#define FEED_INGEST_SERVER_INGEST_BATCH_H_

#include <atomic>
#include <cstdint>
#include <list>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "google/protobuf/arena.h"
#include "verdict.h"
#include "wire/ingest_wire.pb.h"

namespace feed_ingest {

class IngestBatch;

// Where a batch's time went (Clock::MonotonicNanos()), for
// feed_ingest_stage_seconds: read by its call (received), handed to the sink
// (submitted), its first produce call and its last delivery report (written
// by the producer thread before the Settle() that publishes them).
struct StageTimes {
  int64_t received_ns = 0;
  int64_t submitted_ns = 0;
  int64_t produced_ns = 0;
  int64_t settled_ns = 0;
  bool went_to_kafka() const { return submitted_ns != 0 && settled_ns != 0; }
};

// How a batch tells its owner that its last record has settled: a function
// and its three arguments, held by value in the batch. The settling thread
// reads them, from the batch, before its last decrement; after it, the batch
// may be freed at any moment, so all that runs is `post(target, queue, tag)`
// — no virtual call, which would read the owner's vtable pointer while the
// owner is being destroyed. The gRPC side (cq_event.h) posts an alarm:
// target = the alarm, queue = the completion queue, tag = the event.
struct SettleNotifier {
  void (*post)(void* target, void* queue, void* tag) = nullptr;
  void* target = nullptr;
  void* queue = nullptr;
  void* tag = nullptr;
};

// An item's dedup key: a 128-bit hash of (user_id, event_id)
// (DedupKeyOf(), dedup_store.h). Two keys that differ are never taken for
// one: a false match would drop an event.
struct DedupKey {
  uint64_t a = 0;
  uint64_t b = 0;
  friend bool operator==(const DedupKey& x, const DedupKey& y) { return x.a == y.a && x.b == y.b; }
  template <typename H>
  friend H AbslHashValue(H h, const DedupKey& k) {
    return H::combine(std::move(h), k.a);  // Already a hash: half of it will do.
  }
};

class IngestBatch {
 public:
  // One Kafka record: a valid item of the request.
  struct Record {
    Record(IngestBatch* batch, uint32_t index) : batch(batch), index(index) {}

    IngestBatch* batch;
    uint32_t index;            // Position in request.interactions().
    uint32_t value_begin = 0;  // The JSON value is values[value_begin, value_end),
    uint32_t value_end = 0;    // written by the encode stage.
    // The item's own time in seconds, also by the encode stage: the sink's
    // lag metric reads it here, in the record its report points at, instead
    // of in the parsed request, which is long out of cache by then.
    double event_s = 0;
    Delivery delivery;  // kPending until the sink settles it.
    // The dedup stage holds this record's key until it settles
    // (DedupStore::Publish()).
    bool claimed = false;
    // Written to --overflow-topic (with the header feed-overflow: hot-key):
    // its user_id is over --hot-key-limit.
    bool overflow = false;
    DedupKey key;  // Set by the dedup stage for an item with an event_id.
  };

  // An item whose key came earlier in the same request: its verdict is that
  // of `first` (a record, or a waiting item).
  struct Repeat {
    uint32_t index;
    const Record* first;
  };

  // An item that got its verdict before Kafka: INVALID (a validation rule),
  // or RETRYABLE (its user_id over --hot-key-limit).
  struct Invalid {
    uint32_t index;
    uint8_t label;  // A RejectLabel index.
    std::string message;
    bool retryable = false;
  };

  // With no notifier (tests) nothing is told, and IsSettled() says when the
  // batch has settled.
  explicit IngestBatch(SettleNotifier notifier = {})
      : notifier_(notifier),
        arena_(ArenaOptions(arena_block_, sizeof(arena_block_))),
        request_(google::protobuf::Arena::CreateMessage<wire::IngestRequest>(&arena_)) {}
  IngestBatch(const IngestBatch&) = delete;
  IngestBatch& operator=(const IngestBatch&) = delete;

  const wire::Interaction& item(const Record& r) const {
    return request_->interactions(static_cast<int>(r.index));
  }
  absl::string_view value(const Record& r) const {
    return absl::string_view(values).substr(r.value_begin, r.value_end - r.value_begin);
  }
  // Items of the request that have a verdict or a record: false before the
  // validate stage has run.
  bool examined() const {
    return !records.empty() || !invalid.empty() || !duplicates.empty() || !waiting.empty();
  }

  // Worker, before the hand-off (again after a back-off: only the first
  // counts): every record, and every waiting item, now awaits one Settle().
  // Waiting items may be settled before it, by the requests they wait for.
  // True when nothing is left to settle: no record, and every waiting item
  // settled already; nothing will notify then.
  bool Arm() {
    if (armed_) return IsSettled();
    armed_ = true;
    const auto n = static_cast<uint32_t>(records.size() + waiting.size());
    // Before Arm() the count only went down (by the waiting items settled so
    // far), wrapping below zero; adding n brings it to what is left.
    return outstanding_.fetch_add(n, std::memory_order_acq_rel) + n == 0;
  }

  // Producer thread, or whoever settles a waiting item: the verdict on
  // `record`. The last one after Arm() notifies.
  void Settle(Record* record, const Delivery& delivery) {
    record->delivery = delivery;
    // Read before the decrement: once it reaches zero the worker may free
    // this batch, so the last settler touches nothing of it after that.
    const SettleNotifier notifier = notifier_;
    // acq_rel: release publishes `delivery` (and every earlier record's) to
    // the thread that sees zero; acquire lets the last settler see them too.
    if (outstanding_.fetch_sub(1, std::memory_order_acq_rel) == 1 && notifier.post != nullptr) {
      notifier.post(notifier.target, notifier.queue, notifier.tag);
    }
  }

  // Worker: true once every record is settled; the verdicts are then visible.
  bool IsSettled() const { return outstanding_.load(std::memory_order_acquire) == 0; }

  // The request, parsed straight into this batch's arena (as wire/ingest_wire.proto
  // reads it), so its items cost no allocation of their own. librdkafka reads
  // its keys.
  wire::IngestRequest& request() { return *request_; }
  const wire::IngestRequest& request() const { return *request_; }
  google::protobuf::Arena& arena() { return arena_; }

  std::string values;  // Every record's JSON, back to back.
  std::vector<Record> records;
  std::vector<Invalid> invalid;  // In index order.
  // The dedup stage's (stages/dedup.h), all in index order. Items Kafka
  // already holds: accepted, not written again.
  std::vector<uint32_t> duplicates;
  // Items another request is writing at this moment: never produced, settled
  // with that write's verdict. A list: a Record* into it stays valid, and
  // an empty one costs no allocation.
  std::list<Record> waiting;
  std::vector<Repeat> repeats;
  StageTimes times;

 private:
  const SettleNotifier notifier_;
  bool armed_ = false;  // Worker only.
  std::atomic<uint32_t> outstanding_{0};
  // The arena starts in this block; a larger request grows it from the heap.
  alignas(16) char arena_block_[4096];
  google::protobuf::Arena arena_;
  wire::IngestRequest* const request_;

  static google::protobuf::ArenaOptions ArenaOptions(char* block, size_t size) {
    google::protobuf::ArenaOptions options;
    options.initial_block = block;
    options.initial_block_size = size;
    return options;
  }
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_INGEST_BATCH_H_
