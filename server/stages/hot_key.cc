#include "stages/hot_key.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"

namespace feed_ingest {

HotKeyStage::HotKeyStage(HotKeys* keys, Action action, const Clock* clock,
                         prometheus::Registry& registry)
    : keys_(keys), action_(action), clock_(clock) {
  auto& family = prometheus::BuildCounter()
                     .Name("feed_ingest_hot_key_events_total")
                     .Help(
                         "Items whose user_id was over --hot-key-limit: written to "
                         "--overflow-topic (overflow) or answered RETRYABLE (reject)")
                     .Register(registry);
  overflowed_ = &family.Add({{"action", "overflow"}});
  rejected_ = &family.Add({{"action", "reject"}});
}

StageOutcome HotKeyStage::Run(Admission& admission) {
  IngestBatch& batch = *admission.batch;
  const int64_t now = clock_->MonotonicNanos();
  const double rate = keys_->limit().rate;
  std::vector<IngestBatch::Invalid> rejected;
  uint32_t over_total = 0;
  size_t kept = 0;
  auto& records = batch.records;
  // Runs of items of one user (a request usually carries few users) cost
  // one bucket lookup each.
  for (size_t begin = 0; begin < records.size();) {
    const absl::string_view user = batch.item(records[begin]).user_id();
    size_t end = begin + 1;
    while (end < records.size() && batch.item(records[end]).user_id() == user) ++end;
    const auto n = static_cast<uint32_t>(end - begin);
    int64_t wait_ns = 0;
    const uint32_t taken = keys_->Take(user, n, now, &wait_ns);
    for (size_t i = begin; i < begin + taken; ++i) records[kept++] = records[i];
    if (taken < n) {
      keys_->NoteOver(user, n - taken);
      over_total += n - taken;
    }
    for (size_t i = begin + taken; i < end; ++i) {
      if (action_ == Action::kOverflow) {
        records[kept] = records[i];
        records[kept++].overflow = true;
        continue;
      }
      // The m-th item over the limit is taken m / rate after the first.
      const double m = static_cast<double>(i - begin - taken);
      const int64_t delay_ms =
          static_cast<int64_t>(std::ceil((static_cast<double>(wait_ns) * 1e-9 + m / rate) * 1e3));
      rejected.push_back(
          {records[i].index, static_cast<uint8_t>(LabelIndex(RejectLabel::kHotKey)),
           absl::StrFormat("this user_id is over --hot-key-limit (%.0f events/s): nothing of it "
                           "was taken; send it again in %d ms",
                           rate, delay_ms),
           /*retryable=*/true});
    }
    begin = end;
  }
  records.erase(records.begin() + static_cast<std::ptrdiff_t>(kept), records.end());
  if (over_total != 0) {
    (action_ == Action::kOverflow ? overflowed_ : rejected_)->Increment(over_total);
    MaybeLogHottest(now);
  }
  if (!rejected.empty()) {
    // Both in index order: merged, the verdicts stay in index order.
    std::vector<IngestBatch::Invalid> merged;
    merged.reserve(batch.invalid.size() + rejected.size());
    std::merge(std::make_move_iterator(batch.invalid.begin()),
               std::make_move_iterator(batch.invalid.end()),
               std::make_move_iterator(rejected.begin()), std::make_move_iterator(rejected.end()),
               std::back_inserter(merged),
               [](const auto& a, const auto& b) { return a.index < b.index; });
    batch.invalid = std::move(merged);
  }
  return records.empty() ? StageOutcome::Answer() : StageOutcome::Next();
}

void HotKeyStage::MaybeLogHottest(int64_t now_ns) {
  int64_t due = next_log_ns_.load(std::memory_order_relaxed);
  if (now_ns < due ||
      !next_log_ns_.compare_exchange_strong(due, now_ns + absl::ToInt64Nanoseconds(kLogEvery),
                                            std::memory_order_relaxed)) {
    return;
  }
  const auto hottest = keys_->TakeHottest(kLogKeys);
  if (hottest.empty()) return;
  Log(LogLevel::kWarning,
      "hot keys: user_ids over --hot-key-limit, events over it since the last line",
      {{"users", absl::StrJoin(hottest, ",", absl::PairFormatter("="))},
       {"action", action_ == Action::kOverflow ? "overflow" : "reject"},
       {"limit_per_s", absl::StrFormat("%.0f", keys_->limit().rate)}});
}

}  // namespace feed_ingest
