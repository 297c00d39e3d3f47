// IngestPath: the stages one request goes through, in order, and the one
// place where every item's verdict becomes an answer and a count.
//
//   authenticate → admit → validate → budget → dedup → encode → submit ⇢ (Kafka) ⇢ answer
//
// The calls (unary_call.h, stream_call.h) drive it; docs/architecture.md
// follows one interaction around the whole trip.
//
//   IngestPath path(std::move(stages), &metrics);
//   StageOutcome o = path.Open(admission);       // call-scoped stages
//   if (o.step() == StageStep::kNext) o = path.Admit(admission);
//   switch (o.step()) {
//     case StageStep::kAnswer: path.Answer(admission, &response); ...
//     case StageStep::kQueued: ... later, once settled: path.Answer(...)
//     case StageStep::kRefuse: path.Refuse(admission, o, &response_or_null); ...
//     ...
//   }
//
// Thread-safe: any worker thread, for many requests at once (each
// Admission is touched by one thread at a time).
#ifndef FEED_INGEST_SERVER_INGEST_PATH_H_
#define FEED_INGEST_SERVER_INGEST_PATH_H_

#include <memory>
#include <vector>

#include "feed/interactions/v1/interactions.pb.h"
#include "metrics.h"
#include "stages/stage.h"

namespace feed_ingest {

class IngestPath {
 public:
  // Call-scoped stages must come before request-scoped ones; the last stage
  // hands the batch off (answers kQueued) or answers it.
  IngestPath(std::vector<std::unique_ptr<Stage>> stages, IngestMetrics* metrics);

  // Runs the call-scoped stages (admission.batch is null). kNext: the call
  // may go on.
  StageOutcome Open(Admission& admission) const;

  // Runs the request-scoped stages from admission.next_stage until one
  // stops the request. After kBackOff, next_stage is the stage that backed
  // off, so running Admit() again retries it.
  StageOutcome Admit(Admission& admission) const;

  // The answer to a request whose items all have verdicts (it was answered
  // by a stage, or its batch has settled). Runs every stage's Done(), then
  // counts accepted and rejected items: the one place that does. `response`
  // may be null: count only. Once per request.
  void Answer(Admission& admission, ::feed::interactions::v1::IngestResponse* response) const;

  // A request refused, or backed off for good (a unary call), by `outcome`:
  // every stage's Done(), then records still waiting for a verdict become
  // RETRYABLE under the outcome's label, and they are counted as Answer()
  // does. Items no stage had looked at are not counted.
  void Refuse(Admission& admission, const StageOutcome& outcome,
              ::feed::interactions::v1::IngestResponse* response) const;

  const std::vector<std::unique_ptr<Stage>>& stages() const { return stages_; }

 private:
  void Done(Admission& admission) const;
  void Count(const Admission& admission, ::feed::interactions::v1::IngestResponse* response) const;

  const std::vector<std::unique_ptr<Stage>> stages_;
  size_t first_request_stage_ = 0;
  IngestMetrics* const metrics_;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_INGEST_PATH_H_
