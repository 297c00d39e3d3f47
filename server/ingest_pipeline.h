// IngestPipeline: the work between a gRPC request and the ring, and between
// a settled batch and the gRPC response. Shared by the unary and streaming
// calls, so both follow the same rules and count the same metrics.
//
//   IngestPipeline pipeline(&validator, sink, &metrics, &clock, 1000);
//   // gRPC has parsed the request into batch->request().
//   if (auto s = pipeline.CheckSize(batch->request()); !s.ok()) return Finish(s);
//   pipeline.Prepare(batch);                 // validate + encode
//   pipeline.Submit(batch) ...               // to the producer thread
//   pipeline.Answer(*batch, &response);      // once settled
//
// Thread-safe: every method may run on any worker thread at once; a batch is
// touched by one thread at a time (see IngestBatch).
#ifndef FEED_INGEST_SERVER_INGEST_PIPELINE_H_
#define FEED_INGEST_SERVER_INGEST_PIPELINE_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "clock.h"
#include "feed/interactions/v1/interactions.pb.h"
#include "ingest_batch.h"
#include "kafka_sink.h"
#include "metrics.h"
#include "validation.h"

namespace feed_ingest {

class IngestPipeline {
 public:
  IngestPipeline(const InteractionValidator* validator, KafkaSink* sink, IngestMetrics* metrics,
                 const Clock* clock, size_t max_batch);

  // Whole-request rules: INVALID_ARGUMENT for an empty batch or one over
  // max_batch.
  absl::Status CheckSize(const ::feed::interactions::v1::IngestRequest& request) const;

  // Validates every item of batch->request() and encodes the valid ones.
  // Counts received and invalid items.
  void Prepare(IngestBatch* batch) const;

  SubmitResult Submit(IngestBatch* batch) const { return sink_->TrySubmit(batch); }

  // The response for a batch whose records are all settled (or that has no
  // records). Counts accepted and Kafka-rejected items.
  void Answer(const IngestBatch& batch, ::feed::interactions::v1::IngestResponse* response) const;

  // The response for a batch that never reached Kafka: its valid items are
  // rejected as RETRYABLE with `message`, counted under `label`.
  void AnswerUnsent(const IngestBatch& batch, RejectLabel label, absl::string_view message,
                    ::feed::interactions::v1::IngestResponse* response) const;

  size_t max_batch() const { return max_batch_; }

 private:
  const InteractionValidator* const validator_;
  KafkaSink* const sink_;
  IngestMetrics* const metrics_;
  const Clock* const clock_;
  const size_t max_batch_;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_INGEST_PIPELINE_H_
