#include "memory_dedup_store.h"

#include <algorithm>

namespace feed_ingest {
namespace {

constexpr size_t kOrderPerCharge = 4096;

// absl's table: a power of two minus one slots, at most 7/8 full, a control
// byte and a slot each.
template <typename Slot>
int64_t TableBytes(size_t capacity) {
  return static_cast<int64_t>(capacity * (sizeof(Slot) + 1));
}

}  // namespace

int64_t MemoryDedupStore::BytesFor(int64_t max_entries) {
  const int64_t entries = max_entries + max_entries / 4;
  const int64_t wanted = entries + entries / 7 + 1;
  int64_t capacity = 1;
  while (capacity < wanted) capacity = capacity * 2 + 1;
  return TableBytes<std::pair<DedupKey, Entry>>(static_cast<size_t>(capacity)) +
         max_entries * static_cast<int64_t>(sizeof(Expiry));
}

MemoryDedupStore::MemoryDedupStore(absl::Duration window, int64_t max_entries, const Clock* clock,
                                   MemoryBudget* budget, DedupMetrics* metrics)
    : window_s_(static_cast<uint32_t>(
          std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(window, absl::Seconds(1)))))),
      max_entries_(static_cast<size_t>(std::max<int64_t>(max_entries, 1))),
      clock_(clock),
      start_ns_(clock->MonotonicNanos()),
      budget_(budget),
      metrics_(metrics) {
  absl::MutexLock lock(&mu_);
  table_.reserve(max_entries_ + max_entries_ / 4);
  Recharge();
}

uint32_t MemoryDedupStore::NowSeconds() const {
  return static_cast<uint32_t>((clock_->MonotonicNanos() - start_ns_) / 1'000'000'000);
}

void MemoryDedupStore::Observe(int64_t start_ns) const {
  if (metrics_ == nullptr) return;
  metrics_->store_seconds().Observe(static_cast<double>(clock_->MonotonicNanos() - start_ns) *
                                    1e-9);
}

absl::Status MemoryDedupStore::Claim(IngestBatch* batch, absl::Span<const uint32_t> items,
                                     absl::Span<const DedupKey> keys, uint64_t owner,
                                     Outcome* outcomes) {
  const int64_t start_ns = clock_->MonotonicNanos();
  const uint32_t now = NowSeconds();
  const auto owner_bits = static_cast<uint32_t>(owner & kOwnerMask);
  {
    absl::MutexLock lock(&mu_);
    // The keys' slots are far apart in a large table: ask for them all
    // first, so the misses overlap.
    for (const DedupKey& key : keys) table_.prefetch(key);
    // Keys forgotten before their window ended (the store was full) may be
    // among those not found: written again, but counted as uncertain.
    const Outcome unknown = now < overflow_until_s_ ? Outcome::kUncertain : Outcome::kNew;
    for (size_t i = 0; i < items.size(); ++i) {
      auto [it, inserted] = table_.try_emplace(keys[i]);
      Entry& e = it->second;
      outcomes[i] = unknown;
      if (!inserted) {
        if (e.state == kInFlight) {
          batch->waiting.emplace_back(batch, items[i]);
          batch->waiting.back().key = keys[i];
          waiters_[keys[i]].push_back(&batch->waiting.back());
          e.waited = 1;
          outcomes[i] = Outcome::kInFlight;
          continue;
        }
        if (e.expires_s > now) {
          if (e.state == kWritten) {
            outcomes[i] = Outcome::kWritten;
            continue;
          }
          outcomes[i] = Outcome::kUncertain;
        }
        --remembered_;  // In flight again; its place in order_ is stale now.
      }
      e = Entry{0, kInFlight, 0, owner_bits};
    }
    Recharge();
  }
  Observe(start_ns);
  return absl::OkStatus();
}

void MemoryDedupStore::Publish(IngestBatch* batch, uint64_t owner) {
  const int64_t start_ns = clock_->MonotonicNanos();
  const uint32_t now = NowSeconds();
  const uint32_t expires = now + window_s_;
  const auto owner_bits = static_cast<uint32_t>(owner & kOwnerMask);
  {
    absl::MutexLock lock(&mu_);
    for (const IngestBatch::Record& record : batch->records) {
      if (record.claimed) table_.prefetch(record.key);
    }
    for (const IngestBatch::Record& record : batch->records) {
      if (!record.claimed) continue;
      auto it = table_.find(record.key);
      if (it == table_.end() || it->second.state != kInFlight || it->second.owner != owner_bits) {
        continue;  // Not ours: cannot happen.
      }
      Entry& e = it->second;
      if (e.waited) {
        auto w = waiters_.find(record.key);
        if (w != waiters_.end()) {
          const Delivery verdict = WaiterVerdict(record.delivery);
          for (IngestBatch::Record* waiting : w->second) waiting->batch->Settle(waiting, verdict);
          waiters_.erase(w);
        }
      }
      const Delivery& d = record.delivery;
      const bool written = d.state == DeliveryState::kWritten;
      if (written || (d.state == DeliveryState::kRetryable && d.possibly_written)) {
        e = Entry{expires, written ? kWritten : kUncertain, 0, 0};
        ++remembered_;
        order_.push_back(Expiry{record.key, expires});
      } else {
        table_.erase(it);  // Never written: the next request writes it.
      }
    }
    Trim(now);
    Recharge();
  }
  Observe(start_ns);
}

void MemoryDedupStore::Abandon(IngestBatch* batch) {
  absl::MutexLock lock(&mu_);
  for (IngestBatch::Record& waiting : batch->waiting) {
    if (waiting.delivery.state != DeliveryState::kPending) continue;  // Settled already.
    auto w = waiters_.find(waiting.key);
    if (w == waiters_.end()) continue;
    auto& list = w->second;
    list.erase(std::remove(list.begin(), list.end(), &waiting), list.end());
    if (list.empty()) {
      waiters_.erase(w);
      if (auto it = table_.find(waiting.key); it != table_.end()) it->second.waited = 0;
    }
  }
}

int64_t MemoryDedupStore::Entries() {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(table_.size());
}

void MemoryDedupStore::Trim(uint32_t now_s) {
  while (!order_.empty() && (order_.front().expires_s <= now_s || remembered_ > max_entries_)) {
    const Expiry& e = order_.front();
    auto it = table_.find(e.key);
    // Only the place the key holds now: one remembered again has a later
    // one, one in flight none.
    if (it != table_.end() && it->second.state != kInFlight &&
        it->second.expires_s == e.expires_s) {
      if (e.expires_s > now_s) overflow_until_s_ = std::max(overflow_until_s_, e.expires_s);
      table_.erase(it);
      --remembered_;
    }
    order_.pop_front();
  }
}

void MemoryDedupStore::Recharge() {
  if (metrics_ != nullptr) metrics_->entries().Set(static_cast<double>(table_.size()));
  if (budget_ == nullptr) return;
  if (table_.capacity() != charged_capacity_) {
    charged_capacity_ = table_.capacity();
    table_charge_ = budget_->Charge(MemoryBudget::Pool::kDedup,
                                    TableBytes<std::pair<DedupKey, Entry>>(charged_capacity_));
  }
  const size_t wanted = (order_.size() + kOrderPerCharge - 1) / kOrderPerCharge;
  while (order_charges_.size() < wanted) {
    order_charges_.push_back(budget_->Charge(
        MemoryBudget::Pool::kDedup, static_cast<int64_t>(kOrderPerCharge * sizeof(Expiry))));
  }
  // Give back with a block to spare, so a count at a boundary does not churn.
  while (order_charges_.size() > wanted + 1) order_charges_.pop_back();
}

}  // namespace feed_ingest
