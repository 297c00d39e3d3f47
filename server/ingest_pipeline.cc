#include "ingest_pipeline.h"

#include <array>
#include <string>

#include "absl/strings/str_cat.h"
#include "librdkafka/rdkafka.h"
#include "record_json.h"

namespace feed_ingest {
namespace {

using ::feed::interactions::v1::IngestRequest;
using ::feed::interactions::v1::IngestResponse;
using ::feed::interactions::v1::Rejection;
using ::feed::interactions::v1::RejectionCode;

// Appends the rejections of `batch` to `response` in index order: the
// invalid items merged with the records for which `record_message` returns a
// message.
template <typename RecordMessage>
void MergeRejections(const IngestBatch& batch, RecordMessage record_message,
                     IngestResponse* response) {
  auto inv = batch.invalid.begin();
  auto add_invalid = [&] {
    Rejection* r = response->add_rejected();
    r->set_index(inv->index);
    r->set_code(::feed::interactions::v1::REJECTION_CODE_INVALID);
    r->set_message(inv->message);
    ++inv;
  };
  for (const IngestBatch::Record& rec : batch.records) {
    RejectionCode code;
    std::string message;
    if (!record_message(rec, &code, &message)) continue;
    while (inv != batch.invalid.end() && inv->index < rec.index) add_invalid();
    Rejection* r = response->add_rejected();
    r->set_index(rec.index);
    r->set_code(code);
    r->set_message(std::move(message));
  }
  while (inv != batch.invalid.end()) add_invalid();
}

}  // namespace

IngestPipeline::IngestPipeline(const InteractionValidator* validator, KafkaSink* sink,
                               IngestMetrics* metrics, const Clock* clock, size_t max_batch)
    : validator_(validator), sink_(sink), metrics_(metrics), clock_(clock), max_batch_(max_batch) {}

absl::Status IngestPipeline::CheckSize(const IngestRequest& request) const {
  const size_t n = static_cast<size_t>(request.interactions_size());
  if (n == 0) return absl::InvalidArgumentError("interactions: the batch is empty");
  if (n > max_batch_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "interactions: ", n, " items is more than the limit of ", max_batch_, " per request"));
  }
  return absl::OkStatus();
}

void IngestPipeline::Prepare(IngestBatch* batch) const {
  batch->received_ns = MonotonicNanos();
  const auto& items = batch->request().interactions();
  const size_t n = static_cast<size_t>(items.size());
  metrics_->Received(batch->method()).Increment(static_cast<double>(n));
  metrics_->batch_size().Observe(static_cast<double>(n));

  const absl::Time now = clock_->Now();
  std::array<uint32_t, kRejectReasonCount> invalid_by_reason{};
  batch->records.reserve(n);
  batch->values.reserve(n * 160);
  for (size_t i = 0; i < n; ++i) {
    const auto& item = items[static_cast<int>(i)];
    if (auto violation = validator_->Check(item, now)) {
      ++invalid_by_reason[static_cast<size_t>(violation->reason)];
      batch->invalid.push_back({static_cast<uint32_t>(i), std::move(violation->message)});
      continue;
    }
    const auto begin = static_cast<uint32_t>(batch->values.size());
    AppendRecordJson(item, &batch->values);
    batch->records.push_back(
        {batch, static_cast<uint32_t>(i), begin, static_cast<uint32_t>(batch->values.size())});
  }
  for (size_t r = 0; r < kRejectReasonCount; ++r) {
    if (invalid_by_reason[r] != 0) {
      metrics_->Rejected(r).Increment(static_cast<double>(invalid_by_reason[r]));
    }
  }
}

void IngestPipeline::Answer(const IngestBatch& batch, IngestResponse* response) const {
  response->set_sequence(batch.request().sequence());
  uint32_t accepted = 0;
  MergeRejections(
      batch,
      [&accepted](const IngestBatch::Record& rec, RejectionCode* code, std::string* message) {
        if (rec.error == RD_KAFKA_RESP_ERR_NO_ERROR) {
          ++accepted;
          return false;
        }
        const auto err = static_cast<rd_kafka_resp_err_t>(rec.error);
        // Only a record Kafka can never take is the caller's to fix.
        const bool permanent = err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
                               err == RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE;
        *code = permanent ? ::feed::interactions::v1::REJECTION_CODE_INVALID
                          : ::feed::interactions::v1::REJECTION_CODE_RETRYABLE;
        *message =
            absl::StrCat("kafka: ", rd_kafka_err2str(err), " (", rd_kafka_err2name(err), ")",
                         rec.possibly_written ? "; it may have been written: send it again with "
                                                "the same event_id"
                                              : "");
        return true;
      },
      response);
  response->set_accepted(accepted);
  const size_t failed = batch.records.size() - accepted;
  if (accepted != 0) metrics_->accepted().Increment(accepted);
  if (failed != 0) metrics_->Rejected(RejectLabel::kKafka).Increment(static_cast<double>(failed));
}

void IngestPipeline::AnswerUnsent(const IngestBatch& batch, RejectLabel label,
                                  absl::string_view message, IngestResponse* response) const {
  response->set_sequence(batch.request().sequence());
  response->set_accepted(0);
  MergeRejections(
      batch,
      [message](const IngestBatch::Record&, RejectionCode* code, std::string* out) {
        *code = ::feed::interactions::v1::REJECTION_CODE_RETRYABLE;
        out->assign(message.data(), message.size());
        return true;
      },
      response);
  if (!batch.records.empty()) {
    metrics_->Rejected(label).Increment(static_cast<double>(batch.records.size()));
  }
}

}  // namespace feed_ingest
