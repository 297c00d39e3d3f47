// Stage: one step of the admission path, and what it decides.
//
// The path (ingest_path.h) runs the stages in order: authenticate, admit,
// validate, budget, dedup, encode, submit. Each stage looks at one Admission and answers
// with a StageOutcome: go on, answer now, refuse, back off, or "queued" when
// the batch has left for Kafka. A new stage is a new file here and one line
// where the path is put together (IngestServer).
//
//   class QuotaStage final : public Stage {
//    public:
//     absl::string_view name() const override { return "quota"; }
//     StageOutcome Run(Admission& a) override {
//       if (!bucket_.Take(a.batch->request().interactions_size())) {
//         return StageOutcome::BackOff(absl::ResourceExhaustedError("..."),
//                                      RejectLabel::kOverload, absl::Milliseconds(20));
//       }
//       return StageOutcome::Next();
//     }
//   };
//
// Thread rules: Run() is called from any completion-queue worker, for many
// requests at once; a stage keeps per-request state only in the Admission,
// and guards whatever else it keeps.
#ifndef FEED_INGEST_SERVER_STAGES_STAGE_H_
#define FEED_INGEST_SERVER_STAGES_STAGE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "ingest_batch.h"
#include "memory_budget.h"
#include "verdict.h"

namespace prometheus {
class Counter;
}  // namespace prometheus

namespace feed_ingest {

// Who is calling, as the call's metadata tells it.
struct Caller {
  // From `authorization: Bearer <token>`; empty when there is none.
  absl::string_view bearer_token;
  // Who that is, once authenticated: the token's name in the tokens file.
  std::string name;
  // The client certificate's subject common name (mutual TLS), and the
  // peer's IP address; filled only when quotas need them.
  std::string certificate_name;
  std::string peer_address;
};

// One request on the path. The call that owns it keeps it alive (with the
// caller's metadata it points into) until the request is answered.
struct Admission {
  Method method = Method::kIngest;
  Caller caller;
  // The call's deadline, on the service's clock.
  Deadline deadline = Deadline::Never();
  IngestBatch* batch = nullptr;  // Null while call-scoped stages run.
  size_t request_bytes = 0;      // The request as the client sent it.
  size_t next_stage = 0;         // Where the path goes on (after a back-off).
  // Memory held for this request (BudgetStage), given back when the
  // Admission goes, once the request is answered.
  MemoryCharge charge;
  // The token DedupStage holds this request's keys under; 0: none.
  uint64_t dedup_owner = 0;
  // Where the request's accepted items are counted per caller (QuotaStage;
  // null: not counted), and whether it was held back by its caller's quota.
  prometheus::Counter* caller_accepted = nullptr;
  bool throttled = false;
};

enum class StageStep : uint8_t {
  kNext,     // On to the next stage.
  kAnswer,   // Every item has its verdict: answer now.
  kQueued,   // The sink holds the batch; its notifier brings it back.
  kRefuse,   // The request is refused as a whole, with `status`.
  kBackOff,  // Not now: a unary call is refused with `status`; a stream
             // waits `retry_after` and runs the same stage again.
};

class StageOutcome {
 public:
  static StageOutcome Next() { return StageOutcome(StageStep::kNext); }
  static StageOutcome Answer() { return StageOutcome(StageStep::kAnswer); }
  static StageOutcome Queued() { return StageOutcome(StageStep::kQueued); }
  // Items already examined keep their verdicts; those still waiting for one
  // are rejected as RETRYABLE with `item_reason` (static storage), counted
  // under `label`.
  static StageOutcome Refuse(absl::Status status, RejectLabel label = RejectLabel::kShutdown,
                             const char* item_reason = nullptr) {
    StageOutcome o(StageStep::kRefuse);
    o.status_ = std::move(status);
    o.label_ = label;
    o.item_reason_ = item_reason;
    return o;
  }
  static StageOutcome BackOff(absl::Status status, RejectLabel label, absl::Duration retry_after) {
    StageOutcome o(StageStep::kBackOff);
    o.status_ = std::move(status);
    o.label_ = label;
    o.retry_after_ = retry_after;
    return o;
  }

  StageStep step() const { return step_; }
  const absl::Status& status() const { return status_; }
  RejectLabel label() const { return label_; }
  const char* item_reason() const { return item_reason_; }
  absl::Duration retry_after() const { return retry_after_; }

 private:
  explicit StageOutcome(StageStep step) : step_(step) {}

  StageStep step_;
  absl::Status status_;
  RejectLabel label_ = RejectLabel::kShutdown;
  const char* item_reason_ = nullptr;
  absl::Duration retry_after_;
};

class Stage {
 public:
  // kCall stages run once when a call starts (a stream: before its first
  // read); kRequest stages run for every request. Calls come first.
  enum class Scope : uint8_t { kCall, kRequest };

  virtual ~Stage() = default;
  virtual absl::string_view name() const = 0;
  virtual Scope scope() const { return Scope::kRequest; }
  virtual StageOutcome Run(Admission& admission) = 0;
  // The request is about to be answered, once, whatever stopped it: its
  // records have settled, or it was refused (records not yet handed off are
  // still kPending). For a stage that holds something per request. Runs for
  // every request-scoped stage, also those the request never reached.
  virtual void Done(Admission& /*admission*/) {}
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_STAGES_STAGE_H_
