// QuotaStage: a caller over its quota (quotas.h) is told when to come back.
// A unary request whose items its caller's bucket cannot cover now is
// refused RESOURCE_EXHAUSTED, nothing taken, with the delay in a
// google.rpc.RetryInfo and in the grpc-retry-pushback-ms trailer; a stream
// is not read on until the bucket covers the request it holds.
//
//   QuotaStage stage(&quotas, &store, &metrics);
//
// Who the caller is: the bearer token's name, else the client certificate's
// subject common name, else the peer's IP address. Thread-safe: the store
// is; the rest is immutable.
#ifndef FEED_INGEST_SERVER_STAGES_QUOTA_H_
#define FEED_INGEST_SERVER_STAGES_QUOTA_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "quotas.h"
#include "stages/stage.h"

namespace feed_ingest {

// Who `caller` is, for quotas and metrics: a view into `caller`.
absl::string_view CallerIdentity(const Caller& caller);

// feed_ingest_caller_events_total{caller,result="accepted|throttled"}: one
// caller label per --quota name, and "other" for everyone else (never an
// address or a user: the label set stays bounded).
class CallerMetrics {
 public:
  CallerMetrics(prometheus::Registry& registry, const std::vector<std::string>& names);
  prometheus::Counter& Accepted(absl::string_view caller) { return *Of(caller).accepted; }
  prometheus::Counter& Throttled(absl::string_view caller) { return *Of(caller).throttled; }

 private:
  struct Pair {
    prometheus::Counter* accepted;
    prometheus::Counter* throttled;
  };
  const Pair& Of(absl::string_view caller) const {
    auto it = by_name_.find(caller);
    return it != by_name_.end() ? it->second : other_;
  }
  absl::flat_hash_map<std::string, Pair> by_name_;
  Pair other_{};
};

class QuotaStage final : public Stage {
 public:
  // `quotas`, `store` and `metrics` must outlive the stage.
  QuotaStage(const Quotas* quotas, QuotaStore* store, CallerMetrics* metrics)
      : quotas_(quotas), store_(store), metrics_(metrics) {}

  // Stage
  absl::string_view name() const override { return "quota"; }
  // kNext; kBackOff (RESOURCE_EXHAUSTED, label kQuota, retry_after = when
  // the bucket covers the request) when over quota; a store error lets the
  // request through (counted by the store).
  StageOutcome Run(Admission& admission) override;

 private:
  const Quotas* const quotas_;
  QuotaStore* const store_;
  CallerMetrics* const metrics_;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_STAGES_QUOTA_H_
