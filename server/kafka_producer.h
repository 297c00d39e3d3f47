// KafkaProducer: the one librdkafka producer, the RecordRing in front of it,
// and the thread that moves batches from one to the other. The public face
// of the Kafka boundary: what it takes and gives are the service's own types
// (IngestBatch, Delivery); librdkafka stays inside kafka_*.cc.
//
// gRPC workers hand batches over with TrySubmit() (the DeliverySink). The
// producer thread pops them, produces every record (zero-copy: librdkafka
// reads the batch's memory until the delivery report), serves delivery
// reports, and settles each record with a Delivery. The whole round trip is
// drawn in docs/architecture.md.
//
//   KafkaProducerOptions options;
//   options.kafka.brokers = "127.0.0.1:9092";
//   auto producer = KafkaProducer::Create(options, &metrics);
//   RETURN_IF_ERROR((*producer)->EnsureTopic(absl::Seconds(10), nullptr));
//   (*producer)->Start();
//   SubmitResult r = (*producer)->TrySubmit(batch);       // any thread
//   (*producer)->Shutdown(flush_deadline, hard_deadline);
//
// A fatal error (the idempotent producer can no longer promise order and
// exactly-once) fails what the producer held, as retryable, and replaces it.
//
// Thread-safe: TrySubmit() from any thread; Create(), EnsureTopic(),
// Start() and Shutdown() from one controlling thread.
#ifndef FEED_INGEST_SERVER_KAFKA_PRODUCER_H_
#define FEED_INGEST_SERVER_KAFKA_PRODUCER_H_

#include <cstddef>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "delivery_sink.h"
#include "kafka_options.h"
#include "metrics.h"

namespace feed_ingest {

struct KafkaProducerOptions {
  KafkaOptions kafka;
  size_t ring_capacity = 1024;  // Batches.
  // Called on the producer thread when Kafka becomes reachable (any broker
  // up) or unreachable (all down, or a fatal error). May be empty.
  std::function<void(bool reachable)> on_reachability;
  const Clock* clock = nullptr;  // Null: the real clock.
};

class KafkaProducer final : public DeliverySink {
 public:
  // INVALID_ARGUMENT for settings librdkafka refuses.
  static absl::StatusOr<std::unique_ptr<KafkaProducer>> Create(KafkaProducerOptions options,
                                                               IngestMetrics* metrics);
  ~KafkaProducer() override;
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  // Before Start(): the topic is there (kafka_topic.h), or is created from
  // `create` when given.
  absl::Status EnsureTopic(absl::Duration timeout, const TopicSpec* create);

  // Starts the producer thread. Call after EnsureTopic() succeeded.
  void Start();

  // DeliverySink. Arms the batch; on kQueued the producer owns its records
  // until each is settled.
  SubmitResult TrySubmit(IngestBatch* batch) override;

  // Stops taking batches, produces what the ring holds, and waits for
  // delivery reports until `flush`. Whatever Kafka has not acknowledged by
  // then is purged and settled as retryable by `hard`, so every batch
  // settles. Then the producer thread ends. Idempotent.
  void Shutdown(Deadline flush, Deadline hard);

  size_t ring_capacity() const;

 private:
  class Loop;  // The producer thread and all it owns (kafka_producer.cc).
  explicit KafkaProducer(std::unique_ptr<Loop> loop);

  const std::unique_ptr<Loop> loop_;
};

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_KAFKA_PRODUCER_H_
