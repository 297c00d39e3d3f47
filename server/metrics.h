// IngestMetrics: every Prometheus series feed-ingest exports, created once.
//
// Series are resolved to references at construction, so the hot path never
// looks a label up: callers index small arrays by enum. Updates are made per
// batch, not per item (Counter::Increment(n), Histogram::ObserveMultiple).
//
//   auto registry = std::make_shared<prometheus::Registry>();
//   IngestMetrics metrics(*registry);
//   metrics.Received(Method::kIngest).Increment(batch_size);
//
// Thread-safe: prometheus-cpp metrics may be updated from any thread.
#ifndef FEED_INGEST_SERVER_METRICS_H_
#define FEED_INGEST_SERVER_METRICS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "ingest_batch.h"
#include "memory_budget.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "verdict.h"

namespace feed_ingest {

// The stages of feed_ingest_stage_seconds: read → ring (admit), ring →
// produce call (queue), produce → last delivery report (kafka), last report
// → answer written (answer).
enum class StageTime : uint8_t { kAdmit, kQueue, kKafka, kAnswer };
inline constexpr size_t kStageTimeCount = 4;

// A histogram filled locally by one thread and published in bulk, so the
// per-item cost is an index computation and an add.
class HistogramAccumulator {
 public:
  explicit HistogramAccumulator(const prometheus::Histogram::BucketBoundaries& bounds);
  void Observe(double value);
  // Publishes what was observed since the last call, then starts again.
  void PublishTo(prometheus::Histogram& histogram);

 private:
  const prometheus::Histogram::BucketBoundaries& bounds_;
  std::vector<double> counts_;  // One per bound, plus +Inf.
  double sum_ = 0;
  uint64_t observed_ = 0;
};

class IngestMetrics {
 public:
  explicit IngestMetrics(prometheus::Registry& registry);

  prometheus::Counter& Received(Method m) { return *received_[static_cast<size_t>(m)]; }
  prometheus::Counter& Rejected(size_t label) { return *rejected_[label]; }
  prometheus::Counter& Rejected(RejectReason r) { return Rejected(static_cast<size_t>(r)); }
  prometheus::Counter& Rejected(RejectLabel r) { return Rejected(static_cast<size_t>(r)); }
  prometheus::Counter& accepted() { return accepted_; }
  prometheus::Counter& delivered() { return delivered_; }
  // Labelled by librdkafka's error name; failures are rare, so a lookup is fine.
  prometheus::Counter& DeliveryFailures(absl::string_view error);
  prometheus::Gauge& Inflight(Method m) { return *inflight_[static_cast<size_t>(m)]; }
  prometheus::Gauge& ring_depth() { return ring_depth_; }
  prometheus::Gauge& ring_capacity() { return ring_capacity_; }
  prometheus::Gauge& kafka_queue_messages() { return kafka_queue_messages_; }
  prometheus::Histogram& delivery_latency() { return delivery_latency_; }
  prometheus::Histogram& StageSeconds(StageTime s) { return *stage_[static_cast<size_t>(s)]; }
  // The four stages of one request that went to Kafka, its answer written at
  // `answered_ns`. Any thread.
  void ObserveStages(const StageTimes& times, int64_t answered_ns);
  prometheus::Histogram& event_lag() { return event_lag_; }
  prometheus::Histogram& batch_size() { return batch_size_; }
  // `code` is a grpc::StatusCode, 0 to 16. The usual codes' series exist from
  // the start; a rare one is created when it first happens.
  prometheus::Histogram& RequestDuration(Method m, int code);
  prometheus::Gauge& ready() { return ready_; }
  prometheus::Gauge& msk_token_expiry() { return msk_token_expiry_; }
  prometheus::Counter& producer_rebuilds() { return producer_rebuilds_; }
  prometheus::Counter& msk_token_refresh_failures() { return msk_token_refresh_failures_; }
  prometheus::Gauge& memory_limit() { return memory_limit_; }
  prometheus::Registry& registry() { return registry_; }

  // feed_ingest_build_info: this binary's version and its libraries'.
  void PublishBuildInfo(absl::string_view grpc_version, absl::string_view librdkafka_version);

  static const prometheus::Histogram::BucketBoundaries& LatencyBuckets();
  static const prometheus::Histogram::BucketBoundaries& StageBuckets();
  // Finds or makes the duration series of one method and code.
  prometheus::Histogram& DurationSeries(Method m, int code);
  static const prometheus::Histogram::BucketBoundaries& EventLagBuckets();
  static const prometheus::Histogram::BucketBoundaries& BatchSizeBuckets();
  static constexpr size_t kGrpcCodes = 17;

 private:
  prometheus::Registry& registry_;
  prometheus::Family<prometheus::Counter>& failures_family_;
  std::array<prometheus::Counter*, kMethodCount> received_;
  std::array<prometheus::Counter*, kRejectLabelCount> rejected_;
  prometheus::Counter& accepted_;
  prometheus::Counter& delivered_;
  std::array<prometheus::Gauge*, kMethodCount> inflight_;
  prometheus::Gauge& ring_depth_;
  prometheus::Gauge& ring_capacity_;
  prometheus::Gauge& kafka_queue_messages_;
  prometheus::Histogram& delivery_latency_;
  std::array<prometheus::Histogram*, kStageTimeCount> stage_{};
  prometheus::Histogram& event_lag_;
  prometheus::Histogram& batch_size_;
  prometheus::Family<prometheus::Histogram>& duration_family_;
  prometheus::Gauge& ready_;
  prometheus::Gauge& msk_token_expiry_;
  prometheus::Counter& msk_token_refresh_failures_;
  prometheus::Counter& producer_rebuilds_;
  prometheus::Gauge& memory_limit_;
  // Null for codes whose series is made on first use.
  std::array<std::array<prometheus::Histogram*, kGrpcCodes>, kMethodCount> request_duration_{};
};

// feed_ingest_memory_held_bytes{pool}: what a MemoryBudget holds, read at
// scrape time (no cost per request). Thread-safe.
class MemoryMetrics final : public prometheus::Collectable {
 public:
  // `budget` must outlive the scrapes.
  explicit MemoryMetrics(const MemoryBudget* budget) : budget_(budget) {}

  // prometheus::Collectable
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const MemoryBudget* const budget_;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_METRICS_H_
