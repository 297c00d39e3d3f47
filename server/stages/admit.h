// AdmitStage: whole-request rules, before any item is looked at. A request
// whose caller has already given up is not taken (writing it could only
// duplicate); an empty one or one over --max-batch is refused.
//
//   AdmitStage stage(/*max_batch=*/1000, &clock);
//
// Thread-safe: no state.
#ifndef FEED_INGEST_SERVER_STAGES_ADMIT_H_
#define FEED_INGEST_SERVER_STAGES_ADMIT_H_

#include <cstddef>

#include "common/clock.h"
#include "stages/stage.h"

namespace feed_ingest {

class AdmitStage final : public Stage {
 public:
  AdmitStage(size_t max_batch, const Clock* clock) : max_batch_(max_batch), clock_(clock) {}

  // Stage
  absl::string_view name() const override { return "admit"; }
  // DEADLINE_EXCEEDED when the call's deadline has passed; INVALID_ARGUMENT
  // for an empty batch or one over max_batch.
  StageOutcome Run(Admission& admission) override;

 private:
  const size_t max_batch_;
  const Clock* const clock_;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_STAGES_ADMIT_H_
