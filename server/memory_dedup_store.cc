#include "memory_dedup_store.h"

#include <algorithm>
#include <tuple>

#include "absl/hash/hash.h"

namespace feed_ingest {
namespace {

constexpr size_t kOrderPerCharge = 4096;

}  // namespace

int64_t MemoryDedupStore::BytesFor(int64_t max_entries) {
  // absl's table: a power of two minus one slots, at most 7/8 full, a
  // control byte and a slot each (plus a group's worth of control bytes).
  const int64_t wanted = max_entries + max_entries / 7 + 1;
  int64_t capacity = 1;
  while (capacity < wanted) capacity = capacity * 2 + 1;
  const int64_t table = capacity * static_cast<int64_t>(sizeof(std::pair<Key, Remembered>) + 1);
  return table + max_entries * static_cast<int64_t>(sizeof(Expiry));
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
  remembered_.reserve(max_entries_);
  if (budget_ != nullptr) {
    table_charge_ = budget_->Charge(
        MemoryBudget::Pool::kDedup,
        static_cast<int64_t>(remembered_.capacity() * (sizeof(std::pair<Key, Remembered>) + 1)));
  }
}

MemoryDedupStore::Key MemoryDedupStore::KeyOf(const wire::Interaction& item) {
  // Two hashes seeded apart: 128 bits, so two keys that differ are never
  // taken for one (a false match would drop an event).
  const absl::string_view user(item.user_id()), event(item.event_id());
  const uint64_t a = absl::Hash<std::tuple<uint64_t, absl::string_view, absl::string_view>>{}(
      std::make_tuple(0x9e3779b97f4a7c15u, user, event));
  const uint64_t b = absl::Hash<std::tuple<absl::string_view, absl::string_view, uint64_t>>{}(
      std::make_tuple(user, event, 0xc2b2ae3d27d4eb4fu));
  return Key{{static_cast<uint32_t>(a), static_cast<uint32_t>(a >> 32), static_cast<uint32_t>(b),
              static_cast<uint32_t>(b >> 32)}};
}

uint32_t MemoryDedupStore::NowSeconds() const {
  return static_cast<uint32_t>((clock_->MonotonicNanos() - start_ns_) / 1'000'000'000);
}

absl::Status MemoryDedupStore::Claim(IngestBatch* batch, absl::Span<const uint32_t> items,
                                     uint64_t owner, Outcome* outcomes) {
  const uint32_t now = NowSeconds();
  absl::MutexLock lock(&mu_);
  Trim(now);
  for (size_t i = 0; i < items.size(); ++i) {
    const Key key = KeyOf(batch->request().interactions(static_cast<int>(items[i])));
    if (auto f = in_flight_.find(key); f != in_flight_.end()) {
      batch->waiting.emplace_back(batch, items[i]);
      f->second.waiters.push_back(&batch->waiting.back());
      outcomes[i] = Outcome::kInFlight;
      continue;
    }
    // Keys forgotten before their window ended (the store was full) may be
    // among those not found: written again, but counted as uncertain.
    outcomes[i] = now < overflow_until_s_ ? Outcome::kUncertain : Outcome::kNew;
    if (auto r = remembered_.find(key); r != remembered_.end() && r->second.expires_s > now) {
      if (!r->second.uncertain) {
        outcomes[i] = Outcome::kWritten;
        continue;
      }
      outcomes[i] = Outcome::kUncertain;
    }
    in_flight_.emplace(key, InFlight{owner, {}});
  }
  Recharge();
  return absl::OkStatus();
}

void MemoryDedupStore::Publish(IngestBatch* batch, uint64_t owner) {
  const uint32_t now = NowSeconds();
  absl::MutexLock lock(&mu_);
  for (const IngestBatch::Record& record : batch->records) {
    if (!record.claimed) continue;
    const Key key = KeyOf(batch->item(record));
    auto f = in_flight_.find(key);
    if (f == in_flight_.end() || f->second.owner != owner) continue;  // Not ours: cannot happen.
    const Delivery& d = record.delivery;
    const bool written = d.state == DeliveryState::kWritten;
    if (written || (d.state == DeliveryState::kRetryable && d.possibly_written)) {
      const uint32_t expires = now + window_s_;
      remembered_.insert_or_assign(key, Remembered{expires, written ? 0u : 1u});
      order_.push_back(Expiry{key, expires});
    }
    const Delivery verdict = WaiterVerdict(d);
    for (IngestBatch::Record* waiting : f->second.waiters) waiting->batch->Settle(waiting, verdict);
    in_flight_.erase(f);
  }
  Trim(now);
  Recharge();
}

void MemoryDedupStore::Abandon(IngestBatch* batch) {
  absl::MutexLock lock(&mu_);
  for (IngestBatch::Record& waiting : batch->waiting) {
    if (waiting.delivery.state != DeliveryState::kPending) continue;  // Settled already.
    auto f = in_flight_.find(KeyOf(batch->item(waiting)));
    if (f == in_flight_.end()) continue;
    auto& list = f->second.waiters;
    list.erase(std::remove(list.begin(), list.end(), &waiting), list.end());
  }
}

int64_t MemoryDedupStore::Entries() {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(remembered_.size() + in_flight_.size());
}

void MemoryDedupStore::Trim(uint32_t now_s) {
  while (!order_.empty() &&
         (order_.front().expires_s <= now_s || remembered_.size() > max_entries_)) {
    const Expiry& e = order_.front();
    auto it = remembered_.find(e.key);
    // Only the place the key holds now: one remembered again has a later one.
    if (it != remembered_.end() && it->second.expires_s == e.expires_s) {
      if (e.expires_s > now_s) overflow_until_s_ = std::max(overflow_until_s_, e.expires_s);
      remembered_.erase(it);
    }
    order_.pop_front();
  }
}

void MemoryDedupStore::Recharge() {
  if (metrics_ != nullptr) {
    metrics_->entries().Set(static_cast<double>(remembered_.size() + in_flight_.size()));
  }
  if (budget_ == nullptr) return;
  const size_t wanted = (order_.size() + kOrderPerCharge - 1) / kOrderPerCharge;
  while (order_charges_.size() < wanted) {
    order_charges_.push_back(budget_->Charge(
        MemoryBudget::Pool::kDedup, static_cast<int64_t>(kOrderPerCharge * sizeof(Expiry))));
  }
  // Give back with a block to spare, so a count at a boundary does not churn.
  while (order_charges_.size() > wanted + 1) order_charges_.pop_back();
}

}  // namespace feed_ingest
