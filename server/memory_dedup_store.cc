#include "memory_dedup_store.h"

#include <algorithm>
#include <tuple>

#include "absl/hash/hash.h"

namespace feed_ingest {
namespace {

constexpr size_t kEntriesPerCharge = 4096;

}  // namespace

MemoryDedupStore::MemoryDedupStore(absl::Duration window, int64_t max_entries, const Clock* clock,
                                   MemoryBudget* budget, DedupMetrics* metrics)
    : window_ns_(absl::ToInt64Nanoseconds(window)),
      max_entries_(static_cast<size_t>(std::max<int64_t>(max_entries, 1))),
      clock_(clock),
      budget_(budget),
      metrics_(metrics) {}

MemoryDedupStore::Key MemoryDedupStore::KeyOf(const wire::Interaction& item) {
  // Two hashes seeded apart: 128 bits, so two keys that differ are never
  // taken for one (a false match would drop an event).
  const absl::string_view user(item.user_id()), event(item.event_id());
  return Key{absl::Hash<std::tuple<uint64_t, absl::string_view, absl::string_view>>{}(
                 std::make_tuple(0x9e3779b97f4a7c15u, user, event)),
             absl::Hash<std::tuple<absl::string_view, absl::string_view, uint64_t>>{}(
                 std::make_tuple(user, event, 0xc2b2ae3d27d4eb4fu))};
}

absl::Status MemoryDedupStore::Claim(IngestBatch* batch, absl::Span<const uint32_t> items,
                                     uint64_t owner, Outcome* outcomes) {
  const int64_t now = clock_->MonotonicNanos();
  absl::MutexLock lock(&mu_);
  Trim(now);
  for (size_t i = 0; i < items.size(); ++i) {
    const Key key = KeyOf(batch->request().interactions(static_cast<int>(items[i])));
    auto [it, inserted] = entries_.try_emplace(key, Entry{0, owner, State::kInFlight});
    Entry& e = it->second;
    if (inserted || (e.state != State::kInFlight && e.expires_ns <= now)) {
      e = Entry{0, owner, State::kInFlight};
      outcomes[i] = Outcome::kNew;
    } else if (e.state == State::kWritten) {
      outcomes[i] = Outcome::kWritten;
    } else if (e.state == State::kUncertain) {
      e = Entry{0, owner, State::kInFlight};
      outcomes[i] = Outcome::kUncertain;
    } else {
      batch->waiting.emplace_back(batch, items[i]);
      waiters_[key].push_back(&batch->waiting.back());
      outcomes[i] = Outcome::kInFlight;
    }
  }
  Recharge();
  return absl::OkStatus();
}

void MemoryDedupStore::Publish(IngestBatch* batch, uint64_t owner) {
  const int64_t now = clock_->MonotonicNanos();
  absl::MutexLock lock(&mu_);
  for (const IngestBatch::Record& record : batch->records) {
    if (!record.claimed) continue;
    const Key key = KeyOf(batch->item(record));
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.state != State::kInFlight || it->second.owner != owner) {
      continue;  // Not ours (cannot happen: claims do not expire here).
    }
    const Delivery& d = record.delivery;
    if (d.state == DeliveryState::kWritten ||
        (d.state == DeliveryState::kRetryable && d.possibly_written)) {
      const State state = d.state == DeliveryState::kWritten ? State::kWritten : State::kUncertain;
      it->second = Entry{now + window_ns_, 0, state};
      order_.push_back(Remembered{key, now + window_ns_});
    } else {
      entries_.erase(it);
    }
    if (auto w = waiters_.find(key); w != waiters_.end()) {
      const Delivery verdict = WaiterVerdict(d);
      for (IngestBatch::Record* waiting : w->second) waiting->batch->Settle(waiting, verdict);
      waiters_.erase(w);
    }
  }
  Trim(now);
  Recharge();
}

void MemoryDedupStore::Abandon(IngestBatch* batch) {
  absl::MutexLock lock(&mu_);
  for (IngestBatch::Record& waiting : batch->waiting) {
    if (waiting.delivery.state != DeliveryState::kPending) continue;  // Settled already.
    auto w = waiters_.find(KeyOf(batch->item(waiting)));
    if (w == waiters_.end()) continue;
    auto& list = w->second;
    list.erase(std::remove(list.begin(), list.end(), &waiting), list.end());
    if (list.empty()) waiters_.erase(w);
  }
}

int64_t MemoryDedupStore::Entries() {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(entries_.size());
}

void MemoryDedupStore::Trim(int64_t now_ns) {
  while (!order_.empty() && (order_.front().expires_ns <= now_ns || order_.size() > max_entries_)) {
    Forget(order_.front());
    order_.pop_front();
  }
}

void MemoryDedupStore::Forget(const Remembered& r) {
  auto it = entries_.find(r.key);
  // Only the place the key holds now: one written again has a later one.
  if (it != entries_.end() && it->second.state != State::kInFlight &&
      it->second.expires_ns == r.expires_ns) {
    entries_.erase(it);
  }
}

void MemoryDedupStore::Recharge() {
  if (metrics_ != nullptr) metrics_->entries().Set(static_cast<double>(entries_.size()));
  if (budget_ == nullptr) return;
  const size_t wanted = (entries_.size() + kEntriesPerCharge - 1) / kEntriesPerCharge;
  while (charges_.size() < wanted) {
    charges_.push_back(budget_->Charge(MemoryBudget::Pool::kDedup,
                                       MemoryDedupStore::kBytesPerEntry * kEntriesPerCharge));
  }
  // Give back with a block to spare, so a count at a boundary does not churn.
  while (charges_.size() > wanted + 1) charges_.pop_back();
}

}  // namespace feed_ingest
