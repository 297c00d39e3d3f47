#include "stages/validate.h"

#include <utility>

namespace feed_ingest {

StageOutcome ValidateStage::Run(Admission& admission) {
  IngestBatch& batch = *admission.batch;
  const auto& items = batch.request().interactions();
  const size_t n = static_cast<size_t>(items.size());
  metrics_->Received(admission.method).Increment(static_cast<double>(n));
  metrics_->batch_size().Observe(static_cast<double>(n));

  const absl::Time now = clock_->Now();  // Once per request.
  batch.records.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const auto index = static_cast<uint32_t>(i);
    if (auto violation = validator_->Check(items[static_cast<int>(i)], now)) {
      batch.invalid.push_back(
          {index, static_cast<uint8_t>(violation->reason), std::move(violation->message)});
    } else {
      batch.records.emplace_back(&batch, index);
    }
  }
  return batch.records.empty() ? StageOutcome::Answer() : StageOutcome::Next();
}

}  // namespace feed_ingest
