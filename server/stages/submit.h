// SubmitStage: the hand-off of the batch to its DeliverySink (the Kafka
// producer thread), the last stage of the path.
//
//   SubmitStage stage(&producer);
//
// Thread-safe: DeliverySink::TrySubmit is.
#ifndef FEED_INGEST_SERVER_STAGES_SUBMIT_H_
#define FEED_INGEST_SERVER_STAGES_SUBMIT_H_

#include "delivery_sink.h"
#include "stages/stage.h"

namespace feed_ingest {

inline constexpr char kShuttingDown[] =
    "the server is shutting down; send again, to another instance";
inline constexpr char kAtCapacity[] =
    "the server is at capacity; nothing of this request was taken, send it again after a "
    "backoff";

class SubmitStage final : public Stage {
 public:
  explicit SubmitStage(DeliverySink* sink) : sink_(sink) {}

  // Stage
  absl::string_view name() const override { return "submit"; }
  // kQueued; kBackOff (RESOURCE_EXHAUSTED) when the sink is full; kRefuse
  // (UNAVAILABLE, items RETRYABLE) when it is closing.
  StageOutcome Run(Admission& admission) override;

 private:
  DeliverySink* const sink_;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_STAGES_SUBMIT_H_
