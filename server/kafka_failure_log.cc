#include "kafka_failure_log.h"

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace feed_ingest {

void KafkaFailureLog::Count(rd_kafka_resp_err_t error, uint64_t records) {
  if (records == 0) return;
  metrics_->DeliveryFailures(rd_kafka_err2name(error)).Increment(static_cast<double>(records));
  unlogged_ += records;
  last_ = error;
}

void KafkaFailureLog::LogIfDue() {
  if (unlogged_ > 0 &&
      clock_->MonotonicNanos() - last_line_ns_ >= absl::ToInt64Nanoseconds(kEvery)) {
    LogNow();
  }
}

void KafkaFailureLog::LogNow() {
  if (unlogged_ == 0) return;
  last_line_ns_ = clock_->MonotonicNanos();
  Log(LogLevel::kWarning, "Kafka did not take records; their callers were told to retry",
      {{"records", absl::StrCat(unlogged_)},
       {"last_error", rd_kafka_err2name(last_)},
       {"detail", rd_kafka_err2str(last_)}});
  unlogged_ = 0;
}

}  // namespace feed_ingest
