// KafkaConfig: the librdkafka configuration of the service's producer — the
// defaults the contract needs, MSK IAM wiring, the operator's overrides —
// and the callbacks that carry librdkafka's reports to the producer.
//
// Part of the Kafka boundary (kafka_config, kafka_topic, kafka_producer):
// librdkafka's types are used only inside it.
//
//   KafkaOptions options;
//   options.brokers = "b-1.msk:9098";
//   auto config = KafkaConfig::Create(options, &events, &metrics);
//   absl::StatusOr<rd_kafka_t*> rk = (*config)->NewProducer();
//
// Defaults: idempotent, acks=all, snappy, murmur2_random (the Java client's
// placement of keys), linger 5 ms, no topic auto-creation, a bounded queue;
// `extra_config` overrides any of them and adds any other property.
//
// Thread rules: Create() and NewProducer() from one thread. Delivery, error,
// statistics and log callbacks run on whichever thread polls the producer;
// MSK token refreshes on librdkafka's background thread.
#ifndef FEED_INGEST_SERVER_KAFKA_CONFIG_H_
#define FEED_INGEST_SERVER_KAFKA_CONFIG_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kafka_options.h"
#include "librdkafka/rdkafka.h"
#include "metrics.h"

namespace feed_ingest {

// What librdkafka reports about a producer, on the thread that polls it.
class KafkaEvents {
 public:
  virtual void OnDelivery(const rd_kafka_message_t& message) = 0;
  virtual void OnError(rd_kafka_t* rk, rd_kafka_resp_err_t err, const char* reason) = 0;
  virtual void OnStats(rd_kafka_t* rk, absl::string_view json) = 0;

 protected:
  ~KafkaEvents() = default;
};

class KafkaConfig {
 public:
  // INVALID_ARGUMENT names a property librdkafka refuses, or a missing
  // broker list or topic. `events` and `metrics` must outlive every producer.
  static absl::StatusOr<std::unique_ptr<KafkaConfig>> Create(KafkaOptions options,
                                                             KafkaEvents* events,
                                                             IngestMetrics* metrics);
  ~KafkaConfig();
  KafkaConfig(const KafkaConfig&) = delete;
  KafkaConfig& operator=(const KafkaConfig&) = delete;

  // A new producer on a copy of this configuration; the caller destroys it.
  absl::StatusOr<rd_kafka_t*> NewProducer() const;

  const KafkaOptions& options() const { return options_; }
  // The configuration every producer starts from. Kafka boundary only (the
  // producer, and its tests, which add interceptors).
  rd_kafka_conf_t* conf() const { return conf_; }

 private:
  KafkaConfig(KafkaOptions options, KafkaEvents* events, IngestMetrics* metrics)
      : options_(std::move(options)), events_(events), metrics_(metrics) {}

  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  static int OnStats(rd_kafka_t* rk, char* json, size_t len, void* opaque);
  static void OnLog(const rd_kafka_t* rk, int level, const char* fac, const char* buf);
  static void OnTokenRefresh(rd_kafka_t* rk, const char* config, void* opaque);

  const KafkaOptions options_;
  KafkaEvents* const events_;
  IngestMetrics* const metrics_;
  rd_kafka_conf_t* conf_ = nullptr;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_KAFKA_CONFIG_H_
