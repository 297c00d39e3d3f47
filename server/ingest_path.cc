#include "ingest_path.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "prometheus/counter.h"

namespace feed_ingest {
namespace {

using ::feed::interactions::v1::IngestResponse;
using ::feed::interactions::v1::REJECTION_CODE_INVALID;
using ::feed::interactions::v1::REJECTION_CODE_RETRYABLE;

constexpr char kPossiblyWritten[] =
    "; it may have been written: send it again with the same event_id";
constexpr char kUnsettled[] = "internal: the record was answered before Kafka settled it";
constexpr char kRefused[] = "the request was refused";

}  // namespace

IngestPath::IngestPath(std::vector<std::unique_ptr<Stage>> stages, IngestMetrics* metrics)
    : stages_(std::move(stages)), metrics_(metrics) {
  while (first_request_stage_ < stages_.size() &&
         stages_[first_request_stage_]->scope() == Stage::Scope::kCall) {
    ++first_request_stage_;
  }
  for (size_t i = first_request_stage_; i < stages_.size(); ++i) {
    assert(stages_[i]->scope() == Stage::Scope::kRequest && "call-scoped stages come first");
  }
}

StageOutcome IngestPath::Open(Admission& admission) const {
  for (size_t i = 0; i < first_request_stage_; ++i) {
    StageOutcome outcome = stages_[i]->Run(admission);
    if (outcome.step() != StageStep::kNext) return outcome;
  }
  admission.next_stage = first_request_stage_;
  return StageOutcome::Next();
}

StageOutcome IngestPath::Admit(Admission& admission) const {
  size_t& i = admission.next_stage;
  if (i < first_request_stage_) i = first_request_stage_;
  for (; i < stages_.size(); ++i) {
    StageOutcome outcome = stages_[i]->Run(admission);
    if (outcome.step() == StageStep::kNext) continue;
    if (outcome.step() != StageStep::kBackOff) i = stages_.size();
    return outcome;
  }
  // Every stage let it through, and none took it: nothing is left to do but
  // answer (a path that ends without a submit stage, in tests).
  return StageOutcome::Answer();
}

void IngestPath::Done(Admission& admission) const {
  for (size_t i = first_request_stage_; i < stages_.size(); ++i) stages_[i]->Done(admission);
}

void IngestPath::Answer(Admission& admission, IngestResponse* response) const {
  Done(admission);
  Count(admission, response);
}

void IngestPath::Count(const Admission& admission, IngestResponse* response) const {
  const IngestBatch& batch = *admission.batch;
  if (response != nullptr) response->set_sequence(batch.request().sequence());
  std::array<uint32_t, kRejectLabelCount> rejected{};
  uint32_t accepted = 0;
  uint32_t duplicates = static_cast<uint32_t>(batch.duplicates.size());

  auto reject = [&](uint32_t index, const Delivery& d) {
    assert(d.state != DeliveryState::kPending && "answered before it settled");
    const bool pending = d.state == DeliveryState::kPending;
    ++rejected[pending ? LabelIndex(RejectLabel::kKafka) : d.label];
    if (response == nullptr) return;
    auto* r = response->add_rejected();
    r->set_index(index);
    r->set_code(d.state == DeliveryState::kInvalid ? REJECTION_CODE_INVALID
                                                   : REJECTION_CODE_RETRYABLE);
    const char* reason = pending ? kUnsettled : (d.reason != nullptr ? d.reason : kRefused);
    r->set_message(d.possibly_written ? absl::StrCat(reason, kPossiblyWritten) : reason);
  };

  // Rejections in index order: the items judged before Kafka merged with the
  // records Kafka did not take.
  auto invalid = batch.invalid.begin();
  auto add_invalid = [&] {
    ++rejected[invalid->label];
    if (response != nullptr) {
      auto* r = response->add_rejected();
      r->set_index(invalid->index);
      r->set_code(invalid->retryable ? REJECTION_CODE_RETRYABLE : REJECTION_CODE_INVALID);
      r->set_message(invalid->message);
    }
    ++invalid;
  };
  for (const IngestBatch::Record& record : batch.records) {
    if (record.delivery.state == DeliveryState::kWritten) {
      ++accepted;
      continue;
    }
    while (invalid != batch.invalid.end() && invalid->index < record.index) add_invalid();
    reject(record.index, record.delivery);
  }
  while (invalid != batch.invalid.end()) add_invalid();

  // What the dedup stage took out of the records: Kafka held it already, or
  // it waited for another request's write, or it repeats an earlier item.
  const int merged = response != nullptr ? response->rejected_size() : 0;
  for (const IngestBatch::Record& waited : batch.waiting) {
    if (waited.delivery.state == DeliveryState::kWritten) {
      ++duplicates;
    } else {
      reject(waited.index, waited.delivery);
    }
  }
  for (const IngestBatch::Repeat& repeat : batch.repeats) {
    if (repeat.first->delivery.state == DeliveryState::kWritten) {
      ++duplicates;
    } else {
      reject(repeat.index, repeat.first->delivery);
    }
  }
  accepted += duplicates;
  if (response != nullptr && response->rejected_size() != merged) {
    auto* list = response->mutable_rejected();
    std::sort(list->pointer_begin(), list->pointer_end(),
              [](const auto* a, const auto* b) { return a->index() < b->index(); });
  }

  if (response != nullptr) {
    response->set_accepted(accepted);
    response->set_duplicates(duplicates);
  }
  // A call refused as a whole (no response) answers nothing as accepted.
  if (accepted != 0 && response != nullptr) {
    metrics_->accepted().Increment(accepted);
    if (admission.caller_accepted != nullptr) admission.caller_accepted->Increment(accepted);
  }
  for (size_t label = 0; label < kRejectLabelCount; ++label) {
    if (rejected[label] != 0) metrics_->Rejected(label).Increment(rejected[label]);
  }
}

void IngestPath::Refuse(Admission& admission, const StageOutcome& outcome,
                        IngestResponse* response) const {
  IngestBatch& batch = *admission.batch;
  if (!batch.examined()) return;  // Refused before any item was looked at.
  Done(admission);                // After it, nothing settles a waiting item any more.
  const char* reason = outcome.item_reason() != nullptr ? outcome.item_reason() : kRefused;
  const Delivery refused = Delivery::Retryable(outcome.label(), reason, /*possibly_written=*/false);
  for (IngestBatch::Record& record : batch.records) {
    if (record.delivery.state == DeliveryState::kPending) record.delivery = refused;
  }
  for (IngestBatch::Record& waited : batch.waiting) {
    if (waited.delivery.state == DeliveryState::kPending) waited.delivery = refused;
  }
  Count(admission, response);
}

}  // namespace feed_ingest
