// DeliverySink: where the submit stage hands a batch, and what settles it.
//
// The service's sink is the Kafka producer (kafka_producer.h); tests use
// sinks that settle batches as a script says, with no broker
// (tests/support/scripted_sink.h).
//
//   switch (sink->TrySubmit(batch)) {
//     case SubmitResult::kQueued: ...   // every record will be settled, then
//                                       // the batch's notifier told
//     case SubmitResult::kFull: ...     // no room now: back off
//     case SubmitResult::kClosed: ...   // shutting down: not taken
//   }
//
// Thread-safe: TrySubmit() from any thread.
#ifndef FEED_INGEST_SERVER_DELIVERY_SINK_H_
#define FEED_INGEST_SERVER_DELIVERY_SINK_H_

#include "ingest_batch.h"

namespace feed_ingest {

enum class SubmitResult {
  kQueued,  // The sink owns the records until the batch has settled.
  kFull,    // No room: back off and try again. The batch was not taken.
  kClosed,  // The sink is shutting down: the batch was not taken.
};

class DeliverySink {
 public:
  virtual ~DeliverySink() = default;
  // Takes a batch whose records are encoded. On kQueued every record gets
  // exactly one Settle(); the caller must keep the batch alive until then.
  virtual SubmitResult TrySubmit(IngestBatch* batch) = 0;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_DELIVERY_SINK_H_
