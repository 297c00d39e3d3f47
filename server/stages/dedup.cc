#include "stages/dedup.h"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace feed_ingest {
namespace {

constexpr char kStoreUnreachable[] =
    "the dedup store cannot be reached, and this server writes nothing it has not checked: "
    "send it again";

using Outcome = DedupStore::Outcome;

}  // namespace

StageOutcome DedupStage::Run(Admission& admission) {
  IngestBatch& batch = *admission.batch;
  // Items with an event_id, each key once (`keyed`); an item whose key came
  // earlier in the request repeats that one.
  std::vector<uint32_t> keyed;
  std::vector<std::pair<uint32_t, uint32_t>> repeats;  // (item, the earlier item)
  absl::flat_hash_map<std::pair<absl::string_view, absl::string_view>, uint32_t> seen;
  seen.reserve(batch.records.size());
  for (const IngestBatch::Record& record : batch.records) {
    const wire::Interaction& item = batch.item(record);
    if (item.event_id().empty()) continue;
    auto [it, first] = seen.try_emplace(
        std::make_pair(absl::string_view(item.user_id()), absl::string_view(item.event_id())),
        record.index);
    if (first) {
      keyed.push_back(record.index);
    } else {
      repeats.emplace_back(record.index, it->second);
    }
  }
  if (keyed.empty()) return StageOutcome::Next();

  std::vector<Outcome> outcomes(keyed.size());
  const uint64_t owner = next_owner_.fetch_add(1, std::memory_order_relaxed);
  std::array<uint32_t, kDedupResultCount> counts{};
  counts[static_cast<size_t>(DedupResult::kDuplicate)] = static_cast<uint32_t>(repeats.size());
  if (absl::Status s = store_->Claim(&batch, keyed, owner, outcomes.data()); s.ok()) {
    admission.dedup_owner = owner;
  } else if (on_error_ == OnStoreError::kWrite) {
    // Written unchecked and unclaimed: a retry of one may be written twice.
    std::fill(outcomes.begin(), outcomes.end(), Outcome::kNew);
    counts[static_cast<size_t>(DedupResult::kUncertain)] += static_cast<uint32_t>(keyed.size());
  } else {
    // Answered RETRYABLE, through the waiting list: settled at once.
    for (uint32_t index : keyed) batch.waiting.emplace_back(&batch, index);
    for (IngestBatch::Record& r : batch.waiting) {
      batch.Settle(&r, Delivery::Retryable(RejectLabel::kDedupStore, kStoreUnreachable, false));
    }
    std::fill(outcomes.begin(), outcomes.end(), Outcome::kInFlight);
  }

  // What became of each keyed item, by its index.
  absl::flat_hash_map<uint32_t, Outcome> outcome_of;
  outcome_of.reserve(keyed.size());
  for (size_t i = 0; i < keyed.size(); ++i) {
    outcome_of.emplace(keyed[i], outcomes[i]);
    if (admission.dedup_owner != 0) {
      const DedupResult r = outcomes[i] == Outcome::kNew         ? DedupResult::kNew
                            : outcomes[i] == Outcome::kUncertain ? DedupResult::kUncertain
                            : outcomes[i] == Outcome::kWritten   ? DedupResult::kDuplicate
                                                                 : DedupResult::kWaited;
      ++counts[static_cast<size_t>(r)];
    }
  }
  for (size_t r = 0; r < kDedupResultCount; ++r) {
    if (counts[r] != 0) metrics_->Result(static_cast<DedupResult>(r)).Increment(counts[r]);
  }

  // Keep the records to write; the others leave for their own lists.
  std::vector<IngestBatch::Record> kept;
  kept.reserve(batch.records.size());
  for (IngestBatch::Record& record : batch.records) {
    auto it = outcome_of.find(record.index);
    if (batch.item(record).event_id().empty()) {
      kept.push_back(record);
    } else if (it == outcome_of.end()) {
      continue;  // A repeat: below.
    } else if (it->second == Outcome::kNew || it->second == Outcome::kUncertain) {
      kept.push_back(record);
      kept.back().claimed = admission.dedup_owner != 0;
    } else if (it->second == Outcome::kWritten) {
      batch.duplicates.push_back(record.index);
    }  // kInFlight: in batch.waiting already.
  }
  batch.records = std::move(kept);
  auto find = [](const auto& list, uint32_t index) -> const IngestBatch::Record* {
    auto it =
        std::lower_bound(list.begin(), list.end(), index,
                         [](const IngestBatch::Record& r, uint32_t i) { return r.index < i; });
    return it != list.end() && it->index == index ? &*it : nullptr;
  };
  for (const auto& [index, earlier] : repeats) {
    if (outcome_of.at(earlier) == Outcome::kWritten) {
      batch.duplicates.push_back(index);
      continue;
    }
    const IngestBatch::Record* first = find(batch.records, earlier);
    if (first == nullptr) first = find(batch.waiting, earlier);
    batch.repeats.push_back(IngestBatch::Repeat{index, first});
  }
  std::sort(batch.duplicates.begin(), batch.duplicates.end());

  if (batch.records.empty() && batch.waiting.empty()) return StageOutcome::Answer();
  return StageOutcome::Next();
}

void DedupStage::Done(Admission& admission) {
  if (admission.dedup_owner == 0) return;
  IngestBatch& batch = *admission.batch;
  if (!batch.waiting.empty()) store_->Abandon(&batch);
  store_->Publish(&batch, admission.dedup_owner);
  admission.dedup_owner = 0;
}

}  // namespace feed_ingest
