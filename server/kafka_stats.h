// KafkaStats: librdkafka's statistics (statistics.interval.ms) turned into
// Prometheus series, and into the one fact readiness needs: is any broker
// up?
//
//   feed_ingest_kafka_broker_up{broker}            1 up, 0 not
//   feed_ingest_kafka_broker_rtt_seconds{broker}   average round trip
//   feed_ingest_kafka_request_errors_total{broker}, _retries_total,
//   _timeouts_total                                produce-side request trouble
//   feed_ingest_kafka_batch_messages{stat}, feed_ingest_kafka_batch_bytes{stat}
//                                                  batch sizes (avg, p99)
//
// Broker state changes are logged, one line each.
//
// Thread rules: one thread (the producer thread, where librdkafka calls the
// statistics callback) calls Apply(); the series may be scraped from any.
#ifndef FEED_INGEST_SERVER_KAFKA_STATS_H_
#define FEED_INGEST_SERVER_KAFKA_STATS_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace feed_ingest {

class KafkaStats {
 public:
  KafkaStats(prometheus::Registry& registry, std::string topic);

  // Applies one statistics document. Returns whether any broker is up, or
  // INVALID_ARGUMENT when `json` is not librdkafka's statistics.
  absl::StatusOr<bool> Apply(absl::string_view json);

 private:
  struct Broker {
    std::string state;
    double txerrs = 0;
    double txretries = 0;
    double req_timeouts = 0;
  };

  const std::string topic_;
  prometheus::Family<prometheus::Gauge>& up_;
  prometheus::Family<prometheus::Gauge>& rtt_;
  prometheus::Family<prometheus::Counter>& errors_;
  prometheus::Family<prometheus::Counter>& retries_;
  prometheus::Family<prometheus::Counter>& timeouts_;
  prometheus::Family<prometheus::Gauge>& batch_messages_;
  prometheus::Family<prometheus::Gauge>& batch_bytes_;
  absl::flat_hash_map<std::string, Broker> brokers_;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_KAFKA_STATS_H_
