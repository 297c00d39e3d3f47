#include "stages/dedup.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "dedup_store.h"

namespace feed_ingest {
namespace {

constexpr char kStoreUnreachable[] =
    "the dedup store cannot be reached, and this server writes nothing it has not checked: "
    "send it again";

using Outcome = DedupStore::Outcome;

}  // namespace

StageOutcome DedupStage::Run(Admission& admission) {
  IngestBatch& batch = *admission.batch;
  // Items with an event_id, each key once (`keyed`, `keys`); an item whose
  // key came earlier in the request repeats that one.
  std::vector<uint32_t> keyed;
  std::vector<DedupKey> keys;
  std::vector<std::pair<uint32_t, uint32_t>> repeats;  // (item, the earlier item)
  absl::flat_hash_map<DedupKey, uint32_t> seen;
  seen.reserve(batch.records.size());
  keyed.reserve(batch.records.size());
  keys.reserve(batch.records.size());
  for (const IngestBatch::Record& record : batch.records) {
    const wire::Interaction& item = batch.item(record);
    if (item.event_id().empty()) continue;
    const DedupKey key = DedupKeyOf(item.user_id(), item.event_id());
    auto [it, first] = seen.try_emplace(key, record.index);
    if (first) {
      keyed.push_back(record.index);
      keys.push_back(key);
    } else {
      repeats.emplace_back(record.index, it->second);
    }
  }
  if (keyed.empty()) return StageOutcome::Next();

  std::vector<Outcome> outcomes(keyed.size());
  const uint64_t owner = next_owner_.fetch_add(1, std::memory_order_relaxed);
  std::array<uint32_t, kDedupResultCount> counts{};
  counts[static_cast<size_t>(DedupResult::kDuplicate)] = static_cast<uint32_t>(repeats.size());
  if (absl::Status s = store_->Claim(&batch, keyed, keys, owner, outcomes.data()); s.ok()) {
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

  // What became of each keyed item, by its index (kNone: no event_id, or a
  // repeat).
  constexpr uint8_t kNone = 0xff;
  std::vector<uint8_t> outcome_of(static_cast<size_t>(batch.request().interactions_size()), kNone);
  for (size_t i = 0; i < keyed.size(); ++i) {
    outcome_of[keyed[i]] = static_cast<uint8_t>(outcomes[i]);
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

  // Keep the records to write; the others leave for their own lists. Both
  // lists are in index order, as `keys` is.
  size_t next_key = 0;
  size_t kept = 0;
  for (IngestBatch::Record& record : batch.records) {
    const uint8_t o = outcome_of[record.index];
    if (o == kNone) {
      if (batch.item(record).event_id().empty()) batch.records[kept++] = record;
      continue;  // Otherwise a repeat: below.
    }
    const DedupKey key = keys[next_key++];
    const auto outcome = static_cast<Outcome>(o);
    if (outcome == Outcome::kNew || outcome == Outcome::kUncertain) {
      IngestBatch::Record& k = batch.records[kept++];
      k = record;
      k.claimed = admission.dedup_owner != 0;
      k.key = key;
    } else if (outcome == Outcome::kWritten) {
      batch.duplicates.push_back(record.index);
    }  // kInFlight: in batch.waiting already.
  }
  batch.records.erase(batch.records.begin() + static_cast<std::ptrdiff_t>(kept),
                      batch.records.end());
  auto find = [](const auto& list, uint32_t index) -> const IngestBatch::Record* {
    auto it =
        std::lower_bound(list.begin(), list.end(), index,
                         [](const IngestBatch::Record& r, uint32_t i) { return r.index < i; });
    return it != list.end() && it->index == index ? &*it : nullptr;
  };
  for (const auto& [index, earlier] : repeats) {
    if (static_cast<Outcome>(outcome_of[earlier]) == Outcome::kWritten) {
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
