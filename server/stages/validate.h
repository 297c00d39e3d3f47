// ValidateStage: every item against the rules of InteractionValidator. An
// item that breaks one gets its INVALID verdict here; the others become the
// batch's records, to be encoded and sent. Counts what was received.
//
//   ValidateStage stage(&validator, &clock, &metrics);
//
// Thread-safe: the validator is const; metrics are thread-safe.
#ifndef FEED_INGEST_SERVER_STAGES_VALIDATE_H_
#define FEED_INGEST_SERVER_STAGES_VALIDATE_H_

#include "common/clock.h"
#include "metrics.h"
#include "stages/stage.h"
#include "validation.h"

namespace feed_ingest {

class ValidateStage final : public Stage {
 public:
  ValidateStage(const InteractionValidator* validator, const Clock* clock, IngestMetrics* metrics)
      : validator_(validator), clock_(clock), metrics_(metrics) {}

  // Stage
  absl::string_view name() const override { return "validate"; }
  // kAnswer when no item is valid, else kNext.
  StageOutcome Run(Admission& admission) override;

 private:
  const InteractionValidator* const validator_;
  const Clock* const clock_;
  IngestMetrics* const metrics_;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_STAGES_VALIDATE_H_
