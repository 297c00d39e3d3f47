#include "stages/admit.h"

#include "absl/strings/str_cat.h"

namespace feed_ingest {

StageOutcome AdmitStage::Run(Admission& admission) {
  if (admission.deadline.Passed(*clock_)) {
    return StageOutcome::Refuse(absl::DeadlineExceededError(
        "the call's deadline passed before it was served; nothing was taken"));
  }
  const size_t n = static_cast<size_t>(admission.batch->request().interactions_size());
  if (n == 0) {
    return StageOutcome::Refuse(absl::InvalidArgumentError("interactions: the batch is empty"));
  }
  if (n > max_batch_) {
    return StageOutcome::Refuse(absl::InvalidArgumentError(absl::StrCat(
        "interactions: ", n, " items is more than the limit of ", max_batch_, " per request")));
  }
  return StageOutcome::Next();
}

}  // namespace feed_ingest
