#include "stages/budget.h"

#include "absl/strings/str_cat.h"

namespace feed_ingest {

BudgetStage::BudgetStage(MemoryBudget* budget)
    : budget_(budget),
      refusal_(absl::StrCat("the server holds all it may for requests in flight (",
                            budget->limit() >> 20,
                            " MiB of --memory-limit); nothing of this request was taken, send "
                            "it again after a backoff")) {}

int64_t BudgetStage::Cost(const Admission& admission) {
  return kPerRequestBytes + kPerRequestByte * static_cast<int64_t>(admission.request_bytes) +
         kPerRecordBytes * static_cast<int64_t>(admission.batch->records.size());
}

StageOutcome BudgetStage::Run(Admission& admission) {
  MemoryCharge charge = budget_->TryCharge(MemoryBudget::Pool::kRequests, Cost(admission));
  if (!charge) {
    return StageOutcome::BackOff(absl::ResourceExhaustedError(refusal_), RejectLabel::kOverload,
                                 absl::Milliseconds(5));
  }
  admission.charge = std::move(charge);
  return StageOutcome::Next();
}

}  // namespace feed_ingest
