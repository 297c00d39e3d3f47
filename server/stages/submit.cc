#include "stages/submit.h"

namespace feed_ingest {

StageOutcome SubmitStage::Run(Admission& admission) {
  switch (sink_->TrySubmit(admission.batch)) {
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
