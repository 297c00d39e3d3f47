#include "stages/submit.h"

namespace feed_ingest {

StageOutcome SubmitStage::Run(Admission& admission) {
  IngestBatch& batch = *admission.batch;
  if (batch.records.empty()) {
    // Nothing to write: only items waiting for other requests' writes
    // (dedup), which settle the batch as the sink would.
    return batch.Arm() ? StageOutcome::Answer() : StageOutcome::Queued();
  }
  switch (sink_->TrySubmit(&batch)) {
    case SubmitResult::kQueued:
      return StageOutcome::Queued();
    case SubmitResult::kFull:
      return StageOutcome::BackOff(absl::ResourceExhaustedError(kAtCapacity),
                                   RejectLabel::kOverload, absl::Milliseconds(1));
    case SubmitResult::kClosed:
      break;
  }
  return StageOutcome::Refuse(absl::UnavailableError(kShuttingDown), RejectLabel::kShutdown,
                              kShuttingDown);
}

}  // namespace feed_ingest
