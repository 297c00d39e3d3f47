#include "metrics.h"

#include <algorithm>
#include <string>
#include <utility>

namespace feed_ingest {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

}  // namespace

HistogramAccumulator::HistogramAccumulator(const prometheus::Histogram::BucketBoundaries& bounds)
    : bounds_(bounds), counts_(bounds.size() + 1, 0.0) {}

void HistogramAccumulator::Observe(double value) {
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  counts_[bucket] += 1;
  sum_ += value;
  ++observed_;
}

void HistogramAccumulator::PublishTo(prometheus::Histogram& histogram) {
  if (observed_ == 0) return;
  histogram.ObserveMultiple(counts_, sum_);
  std::fill(counts_.begin(), counts_.end(), 0.0);
  sum_ = 0;
  observed_ = 0;
}

const prometheus::Histogram::BucketBoundaries& IngestMetrics::LatencyBuckets() {
  static const auto* const kBounds = new prometheus::Histogram::BucketBoundaries{
      0.001, 0.002, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075,
      0.1,   0.2,   0.5,   1,      2,    5,     10,   30,   60};
  return *kBounds;
}

const prometheus::Histogram::BucketBoundaries& IngestMetrics::StageBuckets() {
  static const auto* const kBounds = new prometheus::Histogram::BucketBoundaries{
      0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02,
      0.03,   0.05,    0.075,  0.1,   0.2,   0.5,   1,     2,      5,    10,    60};
  return *kBounds;
}

void IngestMetrics::ObserveStages(const StageTimes& t, int64_t answered_ns) {
  const int64_t at[] = {t.received_ns, t.submitted_ns, t.produced_ns, t.settled_ns, answered_ns};
  for (size_t s = 0; s < kStageTimeCount; ++s) {
    stage_[s]->Observe(static_cast<double>(std::max<int64_t>(0, at[s + 1] - at[s])) * 1e-9);
  }
}

const prometheus::Histogram::BucketBoundaries& IngestMetrics::EventLagBuckets() {
  static const auto* const kBounds = new prometheus::Histogram::BucketBoundaries{
      0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400};
  return *kBounds;
}

const prometheus::Histogram::BucketBoundaries& IngestMetrics::BatchSizeBuckets() {
  static const auto* const kBounds =
      new prometheus::Histogram::BucketBoundaries{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000};
  return *kBounds;
}

IngestMetrics::IngestMetrics(prometheus::Registry& registry)
    : registry_(registry),
      failures_family_(BuildCounter()
                           .Name("feed_ingest_kafka_delivery_failures_total")
                           .Help("Records Kafka did not take, by librdkafka error")
                           .Register(registry)),
      accepted_(BuildCounter()
                    .Name("feed_ingest_interactions_accepted_total")
                    .Help("Items answered as accepted: in Kafka")
                    .Register(registry)
                    .Add({})),
      delivered_(BuildCounter()
                     .Name("feed_ingest_kafka_delivered_total")
                     .Help("Records Kafka acknowledged")
                     .Register(registry)
                     .Add({})),
      ring_depth_(BuildGauge()
                      .Name("feed_ingest_ring_depth")
                      .Help("Batches waiting in the ring for the producer thread")
                      .Register(registry)
                      .Add({})),
      ring_capacity_(BuildGauge()
                         .Name("feed_ingest_ring_capacity")
                         .Help("Slots in the ring (batches)")
                         .Register(registry)
                         .Add({})),
      kafka_queue_messages_(BuildGauge()
                                .Name("feed_ingest_kafka_queue_messages")
                                .Help("Messages librdkafka holds, not yet acknowledged")
                                .Register(registry)
                                .Add({})),
      delivery_latency_(BuildHistogram()
                            .Name("feed_ingest_delivery_latency_seconds")
                            .Help("Receive to Kafka acknowledgement, per delivered item")
                            .Register(registry)
                            .Add({}, LatencyBuckets())),
      event_lag_(BuildHistogram()
                     .Name("feed_ingest_event_lag_seconds")
                     .Help("Event timestamp to Kafka acknowledgement, per delivered item")
                     .Register(registry)
                     .Add({}, EventLagBuckets())),
      batch_size_(BuildHistogram()
                      .Name("feed_ingest_batch_size")
                      .Help("Items per request")
                      .Register(registry)
                      .Add({}, BatchSizeBuckets())),
      duration_family_(BuildHistogram()
                           .Name("feed_ingest_grpc_request_duration_seconds")
                           .Help("gRPC call duration, by method and status code")
                           .Register(registry)),
      ready_(BuildGauge()
                 .Name("feed_ingest_ready")
                 .Help("1 when serving: Kafka reachable and not shutting down")
                 .Register(registry)
                 .Add({})),
      msk_token_expiry_(BuildGauge()
                            .Name("feed_ingest_msk_token_expiry_timestamp_seconds")
                            .Help("When the MSK IAM token handed to librdkafka expires")
                            .Register(registry)
                            .Add({})),
      msk_token_refresh_failures_(BuildCounter()
                                      .Name("feed_ingest_msk_token_refresh_failures_total")
                                      .Help("MSK IAM token refreshes that failed")
                                      .Register(registry)
                                      .Add({})),
      producer_rebuilds_(BuildCounter()
                             .Name("feed_ingest_kafka_producer_rebuilds_total")
                             .Help("Kafka producers replaced after a fatal error")
                             .Register(registry)
                             .Add({})),
      memory_limit_(BuildGauge()
                        .Name("feed_ingest_memory_limit_bytes")
                        .Help("--memory-limit: all the service may hold for its callers")
                        .Register(registry)
                        .Add({})) {
  auto& received = BuildCounter()
                       .Name("feed_ingest_interactions_received_total")
                       .Help("Items received, by gRPC method")
                       .Register(registry);
  auto& inflight = BuildGauge()
                       .Name("feed_ingest_grpc_inflight_calls")
                       .Help("gRPC calls being served, by method")
                       .Register(registry);
  for (size_t m = 0; m < kMethodCount; ++m) {
    const std::string name(MethodName(static_cast<Method>(m)));
    received_[m] = &received.Add({{"method", name}});
    inflight_[m] = &inflight.Add({{"method", name}});
  }
  auto& rejected = BuildCounter()
                       .Name("feed_ingest_interactions_rejected_total")
                       .Help("Items not accepted, by reason")
                       .Register(registry);
  for (size_t r = 0; r < kRejectLabelCount; ++r) {
    rejected_[r] = &rejected.Add({{"reason", std::string(RejectLabelName(r))}});
  }
  auto& stages = BuildHistogram()
                     .Name("feed_ingest_stage_seconds")
                     .Help(
                         "Where a request's time goes: admit (read to ring), queue (ring to "
                         "produce call), kafka (produce to last delivery report), answer (last "
                         "report to answer written)")
                     .Register(registry);
  for (const auto& [stage, name] : {std::pair<StageTime, const char*>{StageTime::kAdmit, "admit"},
                                    {StageTime::kQueue, "queue"},
                                    {StageTime::kKafka, "kafka"},
                                    {StageTime::kAnswer, "answer"}}) {
    stage_[static_cast<size_t>(stage)] = &stages.Add({{"stage", name}}, StageBuckets());
  }
  // The failures an outage or a shutdown brings, at 0 from the start, so a
  // dashboard shows 0 rather than "No data" before the first one.
  for (const char* error : {"_MSG_TIMED_OUT", "_PURGE_QUEUE", "_PURGE_INFLIGHT", "_FATAL",
                            "_TRANSPORT", "MSG_SIZE_TOO_LARGE", "NOT_ENOUGH_REPLICAS"}) {
    DeliveryFailures(error);
  }
  for (size_t m = 0; m < kMethodCount; ++m) {
    for (int code : {0, 1, 3, 4, 8, 13, 14}) {  // OK, CANCELLED, INVALID_ARGUMENT,
      // DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL, UNAVAILABLE.
      request_duration_[m][static_cast<size_t>(code)] =
          &DurationSeries(static_cast<Method>(m), code);
    }
  }
}

void IngestMetrics::PublishBuildInfo(absl::string_view grpc_version,
                                     absl::string_view librdkafka_version) {
  BuildGauge()
      .Name("feed_ingest_build_info")
      .Help("Versions this binary was built with")
      .Register(registry_)
      .Add({{"version", FEED_INGEST_VERSION},
            {"grpc", std::string(grpc_version)},
            {"librdkafka", std::string(librdkafka_version)}})
      .Set(1);
}

prometheus::Histogram& IngestMetrics::DurationSeries(Method m, int code) {
  static constexpr const char* kCodeNames[kGrpcCodes] = {"OK",
                                                         "CANCELLED",
                                                         "UNKNOWN",
                                                         "INVALID_ARGUMENT",
                                                         "DEADLINE_EXCEEDED",
                                                         "NOT_FOUND",
                                                         "ALREADY_EXISTS",
                                                         "PERMISSION_DENIED",
                                                         "RESOURCE_EXHAUSTED",
                                                         "FAILED_PRECONDITION",
                                                         "ABORTED",
                                                         "OUT_OF_RANGE",
                                                         "UNIMPLEMENTED",
                                                         "INTERNAL",
                                                         "UNAVAILABLE",
                                                         "DATA_LOSS",
                                                         "UNAUTHENTICATED"};
  return duration_family_.Add({{"method", std::string(MethodName(m))}, {"code", kCodeNames[code]}},
                              LatencyBuckets());
}

prometheus::Histogram& IngestMetrics::RequestDuration(Method m, int code) {
  prometheus::Histogram* h = request_duration_[static_cast<size_t>(m)][static_cast<size_t>(code)];
  return h != nullptr ? *h : DurationSeries(m, code);
}

prometheus::Counter& IngestMetrics::DeliveryFailures(absl::string_view error) {
  return failures_family_.Add({{"error", std::string(error)}});
}

std::vector<prometheus::MetricFamily> MemoryMetrics::Collect() const {
  prometheus::MetricFamily family;
  family.name = "feed_ingest_memory_held_bytes";
  family.help =
      "Bytes held for callers against --memory-limit, by pool (gRPC's buffers and "
      "librdkafka's own are bounded by their shares, not counted here)";
  family.type = prometheus::MetricType::Gauge;
  for (size_t p = 0; p < MemoryBudget::kPoolCount; ++p) {
    const auto pool = static_cast<MemoryBudget::Pool>(p);
    prometheus::ClientMetric metric;
    metric.label.push_back({"pool", std::string(MemoryBudget::PoolName(pool))});
    metric.gauge.value = static_cast<double>(budget_->held(pool));
    family.metric.push_back(std::move(metric));
  }
  return {std::move(family)};
}

}  // namespace feed_ingest
