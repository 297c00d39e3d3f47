// KafkaFailureLog: records Kafka did not take, counted per librdkafka error
// (feed_ingest_kafka_delivery_failures_total) and told in the log at most
// once every 10 s: an outage fails thousands of records a second, and a log
// line per record would bury everything else. Kafka boundary.
//
//   KafkaFailureLog failures(&metrics, &clock);
//   failures.Count(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT);   // per failed record
//   failures.LogIfDue();                                 // now and then
//   failures.LogNow();                                   // at shutdown
//
// Thread rules: one thread (the producer thread).
#ifndef FEED_INGEST_SERVER_KAFKA_FAILURE_LOG_H_
#define FEED_INGEST_SERVER_KAFKA_FAILURE_LOG_H_

#include <cstdint>

#include "absl/time/time.h"
#include "common/clock.h"
#include "librdkafka/rdkafka.h"
#include "metrics.h"

namespace feed_ingest {

class KafkaFailureLog {
 public:
  static constexpr absl::Duration kEvery = absl::Seconds(10);

  KafkaFailureLog(IngestMetrics* metrics, const Clock* clock) : metrics_(metrics), clock_(clock) {}

  void Count(rd_kafka_resp_err_t error, uint64_t records = 1);
  // One line for what was counted since the last, when that was kEvery ago.
  void LogIfDue();
  // One line for what was counted since the last, if anything.
  void LogNow();

  uint64_t unlogged() const { return unlogged_; }

 private:
  IngestMetrics* const metrics_;
  const Clock* const clock_;
  uint64_t unlogged_ = 0;
  rd_kafka_resp_err_t last_ = RD_KAFKA_RESP_ERR_NO_ERROR;
  int64_t last_line_ns_ = INT64_MIN / 2;  // No line yet: the first is due at once.
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_KAFKA_FAILURE_LOG_H_
