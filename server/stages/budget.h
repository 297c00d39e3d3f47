// BudgetStage: a request is taken only when what it will hold until it is
// answered fits in the MemoryBudget (--memory-limit). A unary call that does
// not fit is refused RESOURCE_EXHAUSTED with nothing taken; a stream is held,
// unread, until there is room.
//
// What a request holds is estimated from what the server can see of it: a
// fixed part per request (its call, context and arena's first block), its
// size as sent (it is parsed into an arena of about that size), and a part
// per record (its JSON value, its place in the batch, and what librdkafka
// keeps for each message: the message, a copy of the key, the headers).
//
//   BudgetStage stage(&budget, limit_text);
//
// Thread-safe: MemoryBudget is.
#ifndef FEED_INGEST_SERVER_STAGES_BUDGET_H_
#define FEED_INGEST_SERVER_STAGES_BUDGET_H_

#include <cstdint>
#include <string>

#include "memory_budget.h"
#include "stages/stage.h"

namespace feed_ingest {

class BudgetStage final : public Stage {
 public:
  static constexpr int64_t kPerRequestBytes = 16 << 10;
  static constexpr int64_t kPerRecordBytes = 768;
  static constexpr int64_t kPerRequestByte = 3;  // Times the request's size as sent.

  // `budget` must outlive the stage.
  explicit BudgetStage(MemoryBudget* budget);

  // The bytes `admission` will hold until answered.
  static int64_t Cost(const Admission& admission);

  // Stage
  absl::string_view name() const override { return "budget"; }
  // kBackOff (RESOURCE_EXHAUSTED) when the request does not fit; else the
  // charge is kept in the Admission until it is answered.
  StageOutcome Run(Admission& admission) override;

 private:
  MemoryBudget* const budget_;
  const std::string refusal_;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_STAGES_BUDGET_H_
