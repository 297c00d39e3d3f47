#include "stages/authenticate.h"

namespace feed_ingest {

StageOutcome AuthenticateStage::Run(Admission& admission) {
  if (tokens_ == nullptr) return StageOutcome::Next();
  std::optional<std::string> name = tokens_->Identify(admission.caller.bearer_token);
  if (!name.has_value()) return StageOutcome::Refuse(absl::UnauthenticatedError(kUnauthenticated));
  admission.caller.name = *std::move(name);
  return StageOutcome::Next();
}

}  // namespace feed_ingest
