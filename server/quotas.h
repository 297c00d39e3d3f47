// Quotas: events per second per caller (--quota=NAME=RATE[/BURST],
// --default-quota=RATE[/BURST]), kept in token buckets in this process
// (--quota-store=local) or shared by every replica through Redis.
//
// A caller is the name of its bearer token, else the subject common name of
// its client certificate (mutual TLS), else its IP address (quota_stage.h).
//
//   auto quotas = Quotas::Create({{"serverpod", {5000, 10000}}}, std::nullopt, /*max_batch=*/1000);
//   LocalQuotaStore store(&clock);
//   const QuotaSpec* spec = (*quotas)->SpecFor("serverpod");
//   absl::StatusOr<absl::Duration> wait = store.Take("serverpod", *spec, 500);
//
// Thread-safe: Quotas is immutable; the stores lock.
#ifndef FEED_INGEST_SERVER_QUOTAS_H_
#define FEED_INGEST_SERVER_QUOTAS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "token_bucket.h"

namespace feed_ingest {

struct QuotaSpec {
  double rate = 0;   // Events per second.
  double burst = 0;  // Events at once, at most.
};

// "RATE" or "RATE/BURST" (a burst of RATE when not given); INVALID_ARGUMENT
// naming what is wrong.
absl::StatusOr<QuotaSpec> ParseQuotaSpec(absl::string_view text);
// "NAME=RATE[/BURST]".
absl::StatusOr<std::pair<std::string, QuotaSpec>> ParseNamedQuota(absl::string_view text);

class Quotas {
 public:
  // Every burst must be at least `max_batch` (a request of max_batch items
  // could never be taken otherwise): INVALID_ARGUMENT naming the quota.
  static absl::StatusOr<std::unique_ptr<Quotas>> Create(
      std::vector<std::pair<std::string, QuotaSpec>> named, std::optional<QuotaSpec> default_quota,
      size_t max_batch);

  // The caller's own quota, else the default, else null (no quota).
  const QuotaSpec* SpecFor(absl::string_view caller) const;
  // Whether `caller` has a quota of its own (its name is a metrics label).
  bool Named(absl::string_view caller) const { return named_.contains(caller); }
  const std::vector<std::string>& names() const { return names_; }
  bool empty() const { return named_.empty() && !default_.has_value(); }

 private:
  Quotas() = default;
  absl::flat_hash_map<std::string, QuotaSpec> named_;
  std::vector<std::string> names_;  // Sorted.
  std::optional<QuotaSpec> default_;
};

class QuotaStore {
 public:
  virtual ~QuotaStore() = default;
  // Takes `n` events from `caller`'s bucket (`spec`): zero when taken, else
  // how long until the bucket covers them (nothing taken). An error when
  // the store cannot be reached.
  virtual absl::StatusOr<absl::Duration> Take(absl::string_view caller, const QuotaSpec& spec,
                                              uint32_t n) = 0;
};

// The buckets in this process: each replica enforces the quota on its own.
// At most kMaxCallers buckets: past that the buckets that are full again
// (their callers idle for a burst's time) are dropped first, and a caller
// whose bucket was dropped starts with a full one, as it would have.
class LocalQuotaStore final : public QuotaStore {
 public:
  static constexpr size_t kMaxCallers = 100'000;

  explicit LocalQuotaStore(const Clock* clock) : clock_(clock) {}

  absl::StatusOr<absl::Duration> Take(absl::string_view caller, const QuotaSpec& spec,
                                      uint32_t n) override;
  size_t size() const;

 private:
  void DropFull(int64_t now_ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock* const clock_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, TokenBucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_QUOTAS_H_
