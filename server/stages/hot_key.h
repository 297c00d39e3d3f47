// HotKeyStage: an item whose user_id is over --hot-key-limit (hot_keys.h)
// goes to --overflow-topic instead of the main topic (--hot-key-action=
// overflow: same record, same key, the header feed-overflow: hot-key, and
// still accepted), or is answered RETRYABLE with the delay after which it
// would be taken (reject). The users' other items are untouched, in order.
//
//   HotKeyStage stage(&hot_keys, HotKeyStage::Action::kOverflow, &clock, registry);
//
// It runs before dedup: an item sent back after a rejection is new to it.
// feed_ingest_hot_key_events_total{action} counts the items; never a user_id
// in a label. Every kLogEvery at most, a log line names the hottest users.
//
// Thread-safe: HotKeys is; the log's time is an atomic.
#ifndef FEED_INGEST_SERVER_STAGES_HOT_KEY_H_
#define FEED_INGEST_SERVER_STAGES_HOT_KEY_H_

#include <atomic>
#include <cstdint>

#include "common/clock.h"
#include "hot_keys.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "stages/stage.h"

namespace feed_ingest {

class HotKeyStage final : public Stage {
 public:
  enum class Action : uint8_t { kOverflow, kReject };
  static constexpr absl::Duration kLogEvery = absl::Seconds(10);
  static constexpr size_t kLogKeys = 5;

  // `keys` and `clock` must outlive the stage.
  HotKeyStage(HotKeys* keys, Action action, const Clock* clock, prometheus::Registry& registry);

  // Stage
  absl::string_view name() const override { return "hot_key"; }
  // kNext; kAnswer when every item was rejected.
  StageOutcome Run(Admission& admission) override;

 private:
  void MaybeLogHottest(int64_t now_ns);

  HotKeys* const keys_;
  const Action action_;
  const Clock* const clock_;
  prometheus::Counter* overflowed_;
  prometheus::Counter* rejected_;
  std::atomic<int64_t> next_log_ns_{0};
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_STAGES_HOT_KEY_H_
