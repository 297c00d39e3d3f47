#include "stages/authenticate.h"

namespace feed_ingest {

StageOutcome AuthenticateStage::Run(Admission& admission) {
  if (tokens_ == nullptr || tokens_->Valid(admission.caller.bearer_token)) {
    return StageOutcome::Next();
  }
  return StageOutcome::Refuse(absl::UnauthenticatedError(kUnauthenticated));
}

}  // namespace feed_ingest
