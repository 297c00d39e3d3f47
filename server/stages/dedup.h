// DedupStage: an item whose (user_id, event_id) Kafka already holds is
// answered accepted and not written again (IngestResponse.duplicates); one
// whose key another request is writing waits for that write's verdict. Keys
// are claimed in the DedupStore once per request, and published when the
// request's records have settled (Done()).
//
//   DedupStage stage(&store, DedupStage::OnStoreError::kWrite, &dedup_metrics);
//
// What it leaves in the batch: `records` are the items to write (a claimed
// key, or no event_id); `duplicates`, `waiting` and `repeats` the others
// (ingest_batch.h). Thread-safe: the store is.
#ifndef FEED_INGEST_SERVER_STAGES_DEDUP_H_
#define FEED_INGEST_SERVER_STAGES_DEDUP_H_

#include <atomic>
#include <cstdint>

#include "dedup_store.h"
#include "stages/stage.h"

namespace feed_ingest {

class DedupStage final : public Stage {
 public:
  // When the store cannot be reached: write the items without dedup, or
  // answer them RETRYABLE (--dedup-on-store-error).
  enum class OnStoreError : uint8_t { kWrite, kReject };

  // `store` and `metrics` must outlive the stage.
  DedupStage(DedupStore* store, OnStoreError on_error, DedupMetrics* metrics)
      : store_(store), on_error_(on_error), metrics_(metrics) {}

  // Stage
  absl::string_view name() const override { return "dedup"; }
  // kNext; kAnswer when nothing is left to write or wait for.
  StageOutcome Run(Admission& admission) override;
  // Publishes the verdicts of the keys this request claimed; stops waiting
  // for others' when it is answered early.
  void Done(Admission& admission) override;

 private:
  DedupStore* const store_;
  const OnStoreError on_error_;
  DedupMetrics* const metrics_;
  std::atomic<uint64_t> next_owner_{1};
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_STAGES_DEDUP_H_
